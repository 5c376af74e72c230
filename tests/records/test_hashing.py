"""SHA-256 helpers agree with each other and with the published test vector."""

from __future__ import annotations

from mmgate.records.hashing import sha256_bytes, sha256_text

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_of_abc_matches_the_fips_180_test_vector() -> None:
    assert sha256_bytes(b"abc") == sha256_text("abc") == ABC_SHA256


