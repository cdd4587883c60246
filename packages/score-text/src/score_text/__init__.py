"""score-text: Keras 3 RNN language model and Bowman sentence VAE, as `score text …` commands."""
