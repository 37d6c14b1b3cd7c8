#!/usr/bin/env python3
"""Writes MIXED, the test file of compressed.raw, to stdout.

Compression units of 64 KiB (16 clusters of 4 KiB): 0 text (compressed),
1 pseudo-random (stored raw), 2 zeros (sparse), 3 half random, half text
(compressed), then 10 000 bytes of text (a short, compressed last unit).
tests/volumes.rs makes the same bytes.
"""
import sys

UNIT = 65536


def text(n, first):
    out, i = bytearray(), first
    while len(out) < n:
        out += b"line %d of some compressible text\n" % i
        i += 1
    return bytes(out[:n])


def noise(n, x):
    out = bytearray()
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
        out.append(x >> 56)
    return bytes(out)


data = (
    text(UNIT, 0)
    + noise(UNIT, 1)
    + bytes(UNIT)
    + noise(UNIT // 2, 2)
    + text(UNIT // 2, 5000)
    + text(10000, 9000)
)
sys.stdout.buffer.write(data)
