"""Autoregressive image models: PixelCNN, gated PixelCNN, PixelVAE and the convolutional VAE baseline."""
