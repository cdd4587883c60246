"""score-music: MusicVAE in PyTorch (decoder plugin), Magenta checkpoint import, training, audio rendering (work in progress; see the project's open issues)."""
