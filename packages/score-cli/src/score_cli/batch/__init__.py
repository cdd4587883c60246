"""``score batch``: score a folder, glob or manifest of videos, resumably, on local worker processes or Ray."""
