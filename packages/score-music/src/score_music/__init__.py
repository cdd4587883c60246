"""score-music: MusicVAE in PyTorch (work in progress; see the project's open issues)."""
