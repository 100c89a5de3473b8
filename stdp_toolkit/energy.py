"""Energy per operation and per memory read: the one table every energy estimate uses.

All in picojoules, from M. Horowitz, "Computing's energy problem (and what we can do about it)",
IEEE ISSCC 2014, pp. 10-14 (45 nm, 0.9 V). A multiply-accumulate (MAC) is a multiply plus an add;
an accumulate (AC, what a spike costs at a synapse) is the add alone.
"""
from __future__ import annotations

SOURCE = ("M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
          "IEEE ISSCC 2014, pp. 10-14; 45 nm, 0.9 V")

PJ = dict(
    fp32_mult=3.7, fp32_add=0.9, fp32_mac=3.7 + 0.9,
    int32_mult=3.1, int32_add=0.1, int32_mac=3.1 + 0.1,
    int8_add=0.03,
    sram_8kb_read_64bit=10.0,   # the smallest memory of the talk (32 KB: 20 pJ, 1 MB: 100 pJ)
)
