"""score-text: Keras 3 RNN language model and Bowman sentence VAE (work in progress; see the project's open issues)."""
