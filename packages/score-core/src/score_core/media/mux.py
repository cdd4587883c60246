"""Put a soundtrack into a video: the source video stream as it is, plus a WAV encoded as AAC."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import numpy as np
from av.audio.stream import AudioStream
from av.packet import Packet
from av.video.stream import VideoStream

from score_core.errors import ScoreError
from score_core.media._open import AV_ERRORS, check_readable_file, literal, open_video, seconds, short_reason
from score_core.media.probe import probe

_AAC_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000})
_FALLBACK_AUDIO_RATE = 48000


class _StageError(Exception):
    """Carries a ScoreError out of a packet generator so it is not mistaken for a muxing error."""

    def __init__(self, error: ScoreError) -> None:
        super().__init__(str(error))
        self.error = error


#: Video codecs every current browser plays from an MP4.
BROWSER_VIDEO_CODECS = frozenset({"h264", "vp9", "av1"})


def mux_audio(video: Path, audio_wav: Path, output: Path, browser_playable: bool = False) -> None:
    """Write `output` (MP4): the video stream of `video` plus `audio_wav` as AAC, cut to the video's length.

    The video stream is copied packet for packet (no re-encode) when MP4 can hold its codec (and, with
    ``browser_playable``, a browser can play it: BROWSER_VIDEO_CODECS); otherwise (VP8, Theora, MPEG-4 Part
    2, ...) it is re-encoded with libx264 (CRF 18, yuv420p), keeping its timestamps and display rotation.
    Audio streams of the source are dropped. The audio starts with the video stream and is cut at the video's
    duration; a shorter WAV simply ends early (no silence is added). Mono stays mono, anything
    else becomes stereo; unusual sample rates are resampled to 48 kHz. `output` is written in place: on
    failure the partial file is removed. Errors are ScoreErrors naming the file at fault.
    """
    info = probe(video)
    check_readable_file(audio_wav)
    try:
        sink = av.open(literal(output), mode="w", format="mp4")
    except AV_ERRORS as exc:
        raise ScoreError(str(output), f"cannot be written ({short_reason(exc)})") from None
    try:
        with open_video(video) as (source, in_stream), _open_audio(audio_wav) as wav:
            start = seconds(in_stream.start_time, in_stream.time_base) or 0.0
            duration = info.duration if in_stream.duration else _scanned_duration(video, start)
            codec = in_stream.codec_context.name
            if codec in sink.supported_codecs and (not browser_playable or codec in BROWSER_VIDEO_CODECS):
                out_video = sink.add_stream_from_template(in_stream)
                out_video.time_base = in_stream.time_base
                video_packets = _copied_packets(video, source, in_stream, out_video)
            else:
                out_video = _add_h264_stream(sink, in_stream)
                video_packets = _reencoded_packets(video, source, in_stream, out_video)
            out_audio, audio_packets = _audio_packets(audio_wav, wav, sink, start, duration)
            for index, packet in _interleave(video_packets, audio_packets):
                packet.stream = out_video if index == 0 else out_audio
                sink.mux(packet)
        sink.close()
    except _StageError as exc:
        _discard(sink, output)
        raise exc.error from None
    except ScoreError:
        _discard(sink, output)
        raise
    except AV_ERRORS as exc:
        _discard(sink, output)
        raise ScoreError(str(output), f"cannot be written ({short_reason(exc)})") from None


def _scanned_duration(path: Path, start: float) -> float:
    """End of the last video packet minus `start`, for containers (Matroska, WebM) that only give the
    duration of all streams together; reads packets without decoding them."""
    end = start
    with open_video(path) as (container, stream):
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        except AV_ERRORS as exc:
            raise ScoreError(str(path), f"corrupt or truncated ({short_reason(exc)})") from None
    return end - start


def _discard(sink: av.container.OutputContainer, output: Path) -> None:
    with contextlib.suppress(*AV_ERRORS):
        sink.close()
    Path(output).unlink(missing_ok=True)


class _open_audio:
    """Context manager: the WAV's container, with errors naming the WAV."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.container: av.container.InputContainer | None = None

    def __enter__(self) -> av.container.InputContainer:
        try:
            self.container = av.open(literal(self.path), mode="r")
        except AV_ERRORS as exc:
            raise ScoreError(str(self.path), f"not an audio file ({short_reason(exc)})") from None
        if not self.container.streams.audio:
            self.container.close()
            raise ScoreError(str(self.path), "has no audio stream")
        return self.container

    def __exit__(self, *exc_info: object) -> None:
        if self.container is not None:
            self.container.close()


def _copied_packets(
    path: Path, source: av.container.InputContainer, in_stream: VideoStream, out_stream: VideoStream
) -> Iterator[tuple[int, Packet[Any]]]:
    try:
        for packet in source.demux(in_stream):
            if packet.dts is None and packet.pts is None:
                continue  # the demuxer's end-of-stream marker
            yield 0, packet
    except AV_ERRORS as exc:
        raise _StageError(ScoreError(str(path), f"corrupt or truncated ({short_reason(exc)})")) from None


def _add_h264_stream(sink: av.container.OutputContainer, in_stream: VideoStream) -> VideoStream:
    rate = in_stream.average_rate or in_stream.guessed_rate or Fraction(25)
    out = sink.add_stream("libx264", rate=rate)
    out.width = in_stream.codec_context.width // 2 * 2
    out.height = in_stream.codec_context.height // 2 * 2
    out.pix_fmt = "yuv420p"
    time_base = in_stream.time_base or Fraction(1, 90_000)
    out.time_base = time_base
    out.codec_context.time_base = time_base
    out.codec_context.options = {"crf": "18", "preset": "veryfast"}
    return out


def _reencoded_packets(
    path: Path, source: av.container.InputContainer, in_stream: VideoStream, out_stream: VideoStream
) -> Iterator[tuple[int, Packet[Any]]]:
    in_stream.thread_type = "AUTO"
    first = True
    try:
        for frame in source.decode(in_stream):
            if first and frame.rotation:
                out_stream.set_display_rotation(round(frame.rotation))
            first = False
            if frame.width != out_stream.width or frame.height != out_stream.height:
                pts = frame.pts
                frame = frame.reformat(width=out_stream.width, height=out_stream.height)
                frame.pts = pts
            frame.time_base = in_stream.time_base
            yield from _tagged(out_stream.encode(frame), 0)
    except AV_ERRORS as exc:
        raise _StageError(ScoreError(str(path), f"corrupt or truncated ({short_reason(exc)})")) from None
    yield from _tagged(out_stream.encode(None), 0)


#: A soundtrack at least this long (seconds) is AAC-encoded in two halves at once, on two CPUs.
PARALLEL_AUDIO_SECONDS = 20.0
_AAC_FRAME = 1024
_SPLICE_MARGIN = 4 * _AAC_FRAME
"""Samples each half's encoder reads beyond the splice, so both have settled there (window shape, psychoacoustic
state) and their blocks overlap-add across it as one encoder's would."""


def _aac_encoder_settings(context: Any, layout: str) -> None:
    context.bit_rate = 128_000 if layout == "mono" else 192_000
    # At 192 kbit/s the bit-saving searches (two-loop quantiser, mid/side, noise and intensity stereo) are
    # most of the encoder's time and not needed: without them it encodes at about twice the speed.
    context.options = {"aac_coder": "fast", "aac_ms": "0", "aac_pns": "0", "aac_is": "0"}


def _audio_packets(
    path: Path,
    wav: av.container.InputContainer,
    sink: av.container.OutputContainer,
    start: float,
    duration: float,
) -> tuple[AudioStream, Iterator[tuple[int, Packet[Any]]]]:
    in_stream = wav.streams.audio[0]
    rate = in_stream.rate if in_stream.rate in _AAC_RATES else _FALLBACK_AUDIO_RATE
    layout = "mono" if in_stream.channels == 1 else "stereo"
    out = sink.add_stream("aac", rate=rate, layout=layout)
    _aac_encoder_settings(out.codec_context, layout)
    out.time_base = Fraction(1, rate)
    limit = round(duration * rate)
    offset = round(start * rate)
    splice = _splice_sample(limit, rate) if rate == in_stream.rate else None

    def packets() -> Iterator[tuple[int, Packet[Any]]]:
        if splice is None:
            yield from _tagged(_encoded(out, _samples(path, wav, layout, rate, 0, limit), layout, rate, offset), 1)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:  # the encoder runs without the GIL
            second = pool.submit(_second_half, path, layout, rate, splice, limit, offset)
            first = _encoded(out, _samples(path, wav, layout, rate, 0, splice + _SPLICE_MARGIN), layout, rate, offset)
            yield from _tagged((p for p in first if p.pts is not None and p.pts < offset + splice), 1)
            yield from _tagged(second.result(), 1)

    return out, packets()


def _splice_sample(limit: int, rate: int) -> int | None:
    """Where a soundtrack of ``limit`` samples is split between two encoders (an AAC frame boundary near the
    middle), or None when it is short or this process has one CPU."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if cpus < 2 or limit < PARALLEL_AUDIO_SECONDS * rate:
        return None
    return limit // 2 // _AAC_FRAME * _AAC_FRAME


def _second_half(path: Path, layout: str, rate: int, splice: int, limit: int, offset: int) -> list[Packet[Any]]:
    """The AAC packets from ``splice`` on, from an encoder of its own that starts _SPLICE_MARGIN samples
    earlier (its priming packets and those before the splice are dropped)."""
    context = av.CodecContext.create("aac", "w")
    context.sample_rate, context.layout, context.format = rate, layout, "fltp"
    context.time_base = Fraction(1, rate)
    _aac_encoder_settings(context, layout)
    begin = splice - _SPLICE_MARGIN
    with _open_audio(path) as wav:
        samples = _samples(path, wav, layout, rate, begin, limit)
        encoded = _encoded(context, samples, layout, rate, offset)
        return [p for p in encoded if p.pts is not None and p.pts >= offset + splice]


def _samples(
    path: Path, wav: av.container.InputContainer, layout: str, rate: int, begin: int, end: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample index, planar float32 samples) chunks of the WAV's samples [begin, end)."""
    in_stream = wav.streams.audio[0]
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    position = 0
    try:
        for frame in _then_none(wav.decode(in_stream)):
            for chunk in resampler.resample(frame):
                samples = chunk.to_ndarray()
                low, high = max(begin - position, 0), min(end - position, samples.shape[1])
                if high > low:
                    yield position + low, samples[:, low:high]
                position += samples.shape[1]
            if position >= end:
                break
    except AV_ERRORS as exc:
        raise _StageError(ScoreError(str(path), f"cannot be read ({short_reason(exc)})")) from None
    if position == 0:
        raise _StageError(ScoreError(str(path), "holds no audio samples"))


def _encoded(
    encoder: Any, chunks: Iterator[tuple[int, np.ndarray]], layout: str, rate: int, offset: int
) -> Iterator[Packet[Any]]:
    """AAC packets of the chunks from ``encoder`` (a stream or a codec context; frame pts: ``offset`` + the
    chunk's first sample), the encoder flushed at the end."""
    for first, samples in chunks:
        yield from encoder.encode(_audio_frame(samples, layout, rate, offset + first))
    yield from encoder.encode(None)


def _audio_frame(samples: np.ndarray, layout: str, rate: int, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
    return frame


def _then_none(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame | None]:
    """The frames, then None (which flushes a resampler)."""
    yield from frames
    yield None


def _tagged(packets: Iterable[Packet[Any]], index: int) -> Iterator[tuple[int, Packet[Any]]]:
    for packet in packets:
        yield index, packet


def _interleave(
    first: Iterator[tuple[int, Packet[Any]]], second: Iterator[tuple[int, Packet[Any]]]
) -> Iterator[tuple[int, Packet[Any]]]:
    """Merge two packet streams in decoding-time order, so the file is interleaved as it is written."""
    pending = [next(first, None), next(second, None)]
    sources = (first, second)
    while pending[0] is not None or pending[1] is not None:
        side = min((i for i in (0, 1) if pending[i] is not None), key=lambda i: _dts_seconds(pending[i]))
        item = pending[side]
        pending[side] = next(sources[side], None)
        yield item  # type: ignore[misc]


def _dts_seconds(item: tuple[int, Packet[Any]] | None) -> float:
    assert item is not None
    packet = item[1]
    stamp = packet.dts if packet.dts is not None else packet.pts
    if stamp is None or packet.time_base is None:
        return float("-inf")
    return float(stamp * packet.time_base)
