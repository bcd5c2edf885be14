"""Turn response bytes into text in WHATWG order: BOM, Content-Type header, <meta> prescan, detection."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

#: Labels browsers decode differently from Python's codec of the same name (WHATWG Encoding Standard).
_WHATWG_ALIASES = {
    "iso-8859-1": "windows-1252",
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
    "l1": "windows-1252",
    "ascii": "windows-1252",
    "us-ascii": "windows-1252",
    "iso8859-1": "windows-1252",
    "cp1252": "windows-1252",
    "x-cp1251": "windows-1251",
    "cp1251": "windows-1251",
    "iso-8859-9": "windows-1254",
    "tis-620": "windows-874",
    "gb2312": "gbk",
    "x-gbk": "gbk",
    "ks_c_5601-1987": "euc-kr",
    "shift-jis": "shift_jis",
    "x-sjis": "shift_jis",
    "unicode": "utf-16le",
    "utf-16": "utf-16le",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
# The prescan looks at the first 1024 bytes for <meta charset> or http-equiv content.
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""",
    re.IGNORECASE,
)
_PRESCAN_BYTES = 1024
_CP125X = re.compile(r"cp125\d")
# Cyrillic read as Latin-1/1252 shows up as these pairs: the signature of mojibake.
_MOJIBAKE = re.compile("[ÐÑ][\u0080-\u00bf\u2018-\u203a]")


def normalize_label(label: str | None) -> str | None:
    """Map an encoding label to the codec a browser would use, or None if Python has no such codec."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _WHATWG_ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name.replace("_", "-")
    except LookupError:
        return None
    # Report the names browsers and HTTP use, not Python's codec names.
    return f"windows-{name[2:]}" if _CP125X.fullmatch(name) else name


def header_charset(content_type: str | None) -> str | None:
    """Return the charset named in a Content-Type header value, normalized."""
    found = _HEADER_CHARSET.search(content_type or "")
    return normalize_label(found.group(1)) if found else None


def meta_charset(body: bytes) -> str | None:
    """Return the charset a <meta> tag in the first 1024 bytes declares, normalized."""
    found = _META_CHARSET.search(body[:_PRESCAN_BYTES])
    if not found:
        return None
    label = normalize_label(found.group(1).decode("ascii", "replace"))
    # A meta tag can't honestly claim UTF-16: it was read as ASCII (WHATWG says use UTF-8).
    return "utf-8" if label and label.startswith("utf-16") else label


def _decodes(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        # A body cut off inside a multi-byte character is still in this encoding.
        if exc.reason == "unexpected end of data" and exc.start >= len(body) - 4:
            return body[: exc.start].decode(encoding, errors="replace")
        return None
    except LookupError:
        return None


#: Single-byte Cyrillic encodings still met on Russian and Kazakh sites.
_CYRILLIC_ENCODINGS = ("windows-1251", "koi8-r", "ibm866", "iso-8859-5")
_LOWER_CYRILLIC = re.compile("[а-яё]")
_ASCII = bytes(range(128))


def _detect_cyrillic(sample: bytes) -> str | None:
    """Pick the single-byte Cyrillic encoding under which the text is mostly lower-case letters.

    charset-normalizer guesses short KOI8-R as cp874 (Thai); but running text is
    mostly lower case, and each of these encodings puts lower-case letters where
    the others put capitals or symbols, so counting them settles it.
    """
    high = len(sample.translate(None, _ASCII))
    if not high:
        return None
    counts = {name: len(_LOWER_CYRILLIC.findall(sample.decode(name, "replace"))) for name in _CYRILLIC_ENCODINGS}
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] >= 0.6 * high else None


def _detect(body: bytes) -> str | None:
    sample = body[:65536]
    # Non-ASCII bytes that happen to form valid UTF-8 throughout are, in practice, UTF-8.
    if _decodes(sample, "utf-8") is not None:
        return "utf-8"
    if (found := _detect_cyrillic(sample)) is not None:
        return found
    best = charset_normalizer.from_bytes(sample, cp_isolation=None).best()
    return normalize_label(best.encoding) if best else None


def looks_like_mojibake(text: str) -> bool:
    """Tell whether text looks like UTF-8 or windows-1251 Cyrillic decoded as Latin-1."""
    return len(_MOJIBAKE.findall(text[:20000])) > 8


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str, str]:
    """Decode a response body; return (text, encoding, where the encoding came from).

    The source is one of bom, header, meta, detected, default; a declared
    encoding that the bytes contradict (a page said utf-8 but is windows-1251)
    is re-decoded and reported as e.g. "header+redecoded".
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace"), encoding, "bom"
    declared: list[tuple[str, str]] = []
    from_header = header_charset(content_type)
    if from_header:
        declared.append((from_header, "header"))
    from_meta = meta_charset(body)
    if from_meta:
        declared.append((from_meta, "meta"))
    if declared:
        encoding, source = declared[0]
        # A template that still declares its old charset is common; text really written in a legacy encoding,
        # single-byte or East Asian, practically never forms valid UTF-8 throughout. So bytes that do are UTF-8.
        if not encoding.startswith("utf-") and not body.isascii() and (text := _decodes(body, "utf-8")) is not None:
            return text, "utf-8", f"{source}+redecoded"
        text = _decodes(body, encoding)
        if text is not None and not (encoding != "utf-8" and looks_like_mojibake(text)):
            return text, encoding, source
        # The declaration is wrong: try the other declaration, then detection.
        for other, _ in declared[1:]:
            text = _decodes(body, other)
            if text is not None and other != encoding:
                return text, other, f"{source}+redecoded"
        detected = _detect(body)
        if detected and detected != encoding and (text := _decodes(body, detected)) is not None:
            return text, detected, f"{source}+redecoded"
        return body.decode(encoding, errors="replace"), encoding, source
    text = _decodes(body, "utf-8")
    if text is not None:
        return text, "utf-8", "default" if body.isascii() else "detected"
    detected = _detect(body) or "windows-1252"
    return body.decode(detected, errors="replace"), detected, "detected"
