"""The contracts of score-vision's encoders, in a module without torch: the plugin registers them and the
model modules build encoders to them."""

from __future__ import annotations

from score_core.contracts import EncoderSpec

MOBILENET_SPEC = EncoderSpec(name="mobilenet", feature_size=1280, input_size=(224, 224), resize="crop", batch_size=32)
INCEPTION_SPEC = EncoderSpec(name="inception", feature_size=2048, input_size=(299, 299), resize="crop", batch_size=16)
PIXELVAE_SPEC = EncoderSpec(name="pixelvae", feature_size=32, input_size=(32, 32), resize="crop", batch_size=64)
"""Nominal: the real sizes come from the model file given with --vision-weights."""
EFFICIENTNET_LITE0_SPEC = EncoderSpec(
    name="efficientnet-lite0", feature_size=1280, input_size=(224, 224), resize="crop", batch_size=32
)
