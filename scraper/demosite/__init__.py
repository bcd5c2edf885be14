"""A local, offline copy of a BaigeNews-style news site, served on 127.0.0.1 for the demo and the tests."""
