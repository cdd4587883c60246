"""score studio: a local web page to score, watch and compare takes; score live: MIDI from a picture."""
