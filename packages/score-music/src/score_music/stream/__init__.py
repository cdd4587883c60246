"""musicvae-stream: a melody decoder driven by one latent per beat under a smooth AR(1) prior."""
