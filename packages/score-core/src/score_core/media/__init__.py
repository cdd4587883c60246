"""Media I/O: probe videos, stream sampled RGB frames, measure visual change, mux a soundtrack.

`score_core.media.synthetic` writes small real test videos (imported explicitly, not re-exported here).
"""

from score_core.media.change import detect_cuts
from score_core.media.clips import demo_clip
from score_core.media.frames import FrameBatch, FrameReader, sample_frames
from score_core.media.mux import mux_audio
from score_core.media.probe import probe

__all__ = ["FrameBatch", "FrameReader", "demo_clip", "detect_cuts", "mux_audio", "probe", "sample_frames"]
