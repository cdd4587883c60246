"""Example score plugin: the template third parties copy."""
