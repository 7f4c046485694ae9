"""Writes static/audio/ringback-ja.wav: the Japanese ringback tone callers hear while they wait,
so waiting sounds like the firm's own phone ringing (400 Hz modulated at 16 Hz, 1 s on, 2 s off)."""

import math
import struct
import wave
from pathlib import Path

RATE = 8000  # telephone quality
OUT = Path(__file__).resolve().parent.parent / "static" / "audio" / "ringback-ja.wav"

samples = []
for n in range(RATE * 3):
    t = n / RATE
    on = t < 1.0
    level = 0.5 * (1 + math.sin(2 * math.pi * 16 * t)) if on else 0.0
    samples.append(int(9000 * level * math.sin(2 * math.pi * 400 * t)))
with wave.open(str(OUT), "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(RATE)
    w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
print(OUT, OUT.stat().st_size, "bytes")
