"""The pure core: records, decisions and machines. No I/O, no clock, no global randomness."""
