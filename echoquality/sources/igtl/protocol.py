"""OpenIGTLink wire format: header, CRC-64, body sections, IMAGE and STATUS content.

Pure functions over bytes; no sockets. Written from the OpenIGTLink protocol
documents (header.md, image.md, status.md, v3 extended header). All numbers in
headers are big-endian; pixel data carry their own byte order.

Message = 58-byte header + body. With header version 2 or 3 the body is
extended header (12 bytes: EXT_HEADER_SIZE u16, METADATA_HEADER_SIZE u16,
METADATA_SIZE u32, MSG_ID u32) + content + metadata header + metadata body;
with header version 1 the body is the content.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

import numpy as np

try:  # crcmod ships with pyigtl; its C extension does ~250 MB/s
    import crcmod as _crcmod

    _crc64_fast = _crcmod.mkCrcFun(0x142F0E1EBA9EA3693, rev=False, initCrc=0, xorOut=0)
except ImportError:  # pragma: no cover - pure table fallback below
    _crc64_fast = None

HEADER_SIZE = 58
DEFAULT_PORT = 18944
EXT_HEADER_MIN_SIZE = 12
IMAGE_HEADER_SIZE = 72
STATUS_HEADER_SIZE = 30
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024   # larger than any ultrasound frame (4k x 4k x 4 B)
CRC_WORK_PER_BYTE = 4       # bytes a reader may CRC-check per byte received (a good stream needs about 1)
SUPPORTED_HEADER_VERSIONS = (1, 2, 3)

_HEADER = struct.Struct(">H12s20sQQQ")
_EXT_HEADER = struct.Struct(">HHII")
_IMAGE_HEADER = struct.Struct(">HBBBBHHH12fHHHHHH")
_STATUS_HEADER = struct.Struct(">Hq20s")

# IMAGE scalar types: code -> numpy dtype (native order; byte order applied per message).
SCALAR_TYPES: dict[int, np.dtype] = {
    2: np.dtype(np.int8), 3: np.dtype(np.uint8),
    4: np.dtype(np.int16), 5: np.dtype(np.uint16),
    6: np.dtype(np.int32), 7: np.dtype(np.uint32),
    10: np.dtype(np.float32), 11: np.dtype(np.float64),
}
SUPPORTED_SCALAR_TYPES = (2, 3, 4, 5, 10)     # int8, uint8, int16, uint16, float32 (as FAST)
SUPPORTED_COMPONENTS = (1, 3, 4)              # gray, RGB, RGBA (alpha ignored)
ENDIAN_BIG, ENDIAN_LITTLE = 1, 2
COORD_RAS, COORD_LPS = 1, 2

# Candidate header start: version 0x0001..0x0003, then two TYPE characters.
_HEADER_START = re.compile(rb"\x00[\x01-\x03][A-Za-z0-9_]{2}")
_TYPE_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NAME_CHARS = frozenset(range(0x20, 0x7F)) | frozenset(range(0x80, 0x100))


class ProtocolError(ValueError):
    """Bytes that are not a well-formed OpenIGTLink message."""


class UnsupportedImage(ValueError):
    """A well-formed IMAGE message this app cannot use (type, size, layout)."""


# ----------------------------------------------------------------------------- CRC

def _make_crc_table() -> list[int]:
    poly, table = 0x42F0E1EBA9EA3693, []
    for byte in range(256):
        crc = byte << 56
        for _ in range(8):
            crc = ((crc << 1) ^ poly) if crc & (1 << 63) else (crc << 1)
        table.append(crc & 0xFFFFFFFFFFFFFFFF)
    return table


_CRC_TABLE = _make_crc_table()


def crc64_reference(data: bytes) -> int:
    """CRC-64/ECMA-182 (poly 0x42F0E1EBA9EA3693, init 0, not reflected), table-driven."""
    crc = 0
    for b in bytes(data):
        crc = _CRC_TABLE[((crc >> 56) ^ b) & 0xFF] ^ ((crc << 8) & 0xFFFFFFFFFFFFFFFF)
    return crc


def crc64(data: bytes | bytearray | memoryview) -> int:
    """CRC-64 of an OpenIGTLink body (C implementation when available)."""
    if _crc64_fast is not None:
        return _crc64_fast(data)
    return crc64_reference(data)  # pragma: no cover


# ----------------------------------------------------------------------------- time

def decode_timestamp(value: int) -> float | None:
    """Seconds since epoch from the 64-bit field (32-bit seconds . 32-bit fraction); None when 0."""
    if value == 0:
        return None
    return (value >> 32) + (value & 0xFFFFFFFF) / 4294967296.0


def encode_timestamp(seconds: float) -> int:
    """64-bit timestamp field for seconds since epoch."""
    whole = int(seconds)
    frac = min(int(round((seconds - whole) * 4294967296.0)), 0xFFFFFFFF)
    return (whole << 32) | frac


# ----------------------------------------------------------------------------- header

@dataclass(frozen=True)
class MessageHeader:
    """The 58-byte header of one message."""
    version: int
    type: str
    device: str
    timestamp: float | None     # sender's clock, seconds since epoch
    body_size: int
    crc: int


def _field_text(raw: bytes, allowed: frozenset[int], strict_padding: bool) -> str | None:
    """Text of a NUL-padded fixed field, or None when it holds forbidden bytes."""
    end = raw.find(b"\x00")
    text = raw if end < 0 else raw[:end]
    if any(b not in allowed for b in text):
        return None
    if strict_padding and end >= 0 and raw[end:].strip(b"\x00"):
        return None
    return text.decode("utf-8", errors="replace")


def parse_header(raw: bytes | bytearray | memoryview,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> MessageHeader:
    """Header from its 58 bytes; ProtocolError when it cannot be a real header.

    Checks: header version 1-3, TYPE of 2-12 letters, digits or '_' NUL-padded,
    DEVICE_NAME without control bytes, BODY_SIZE within max_body_bytes (so an absurd
    size is refused before anything is allocated) and large enough for the
    extended header of version 2/3.
    """
    if len(raw) < HEADER_SIZE:
        raise ProtocolError(f"header needs {HEADER_SIZE} bytes, got {len(raw)}")
    version, type_raw, device_raw, ts, body_size, crc = _HEADER.unpack_from(raw, 0)
    if version not in SUPPORTED_HEADER_VERSIONS:
        raise ProtocolError(f"header version {version} unknown")
    mtype = _field_text(type_raw, _TYPE_CHARS, strict_padding=True)
    if not mtype or len(mtype) < 2:
        raise ProtocolError("TYPE field is not a message type name")
    device = _field_text(device_raw, _NAME_CHARS, strict_padding=False)
    if device is None:
        raise ProtocolError("DEVICE_NAME field holds control bytes")
    if body_size > max_body_bytes:
        raise ProtocolError(f"BODY_SIZE {body_size} exceeds the {max_body_bytes}-byte limit")
    if version >= 2 and body_size < EXT_HEADER_MIN_SIZE:
        raise ProtocolError(f"BODY_SIZE {body_size} too small for a version-{version} extended header")
    return MessageHeader(version, mtype, device, decode_timestamp(ts), body_size, crc)


def find_header_start(buf: bytes | bytearray, start: int,
                      max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> int:
    """Offset >= start of the next plausible header in buf, for resynchronising after garbage.

    Returns the first offset whose 58 bytes parse as a header, or the first candidate
    too close to the end to judge yet (the caller waits for more bytes there). With no
    candidate at all, returns len(buf) - 2 (a header start may straddle the end).
    """
    for m in _HEADER_START.finditer(buf, start):
        pos = m.start()
        if pos + HEADER_SIZE > len(buf):
            return pos
        try:
            parse_header(memoryview(buf)[pos:pos + HEADER_SIZE], max_body_bytes)
            return pos
        except ProtocolError:
            continue
    return max(start, len(buf) - 2)


def build_message(mtype: str, device: str, content: bytes, timestamp: float | None = None,
                  version: int = 1, metadata: dict[str, str] | None = None, message_id: int = 0,
                  crc: int | None = None, body_size: int | None = None) -> bytes:
    """Encode one message (for tests and crafted streams); crc/body_size override the true values."""
    body = content
    if version >= 2:
        meta_header, meta_body = b"", b""
        if metadata:
            meta_header = struct.pack(">H", len(metadata))
            for key, value in metadata.items():
                k, v = key.encode("utf-8"), value.encode("utf-8")
                meta_header += struct.pack(">HHI", len(k), 106, len(v))
                meta_body += k + v
        body = (_EXT_HEADER.pack(EXT_HEADER_MIN_SIZE, len(meta_header), len(meta_body), message_id)
                + content + meta_header + meta_body)
    ts = encode_timestamp(timestamp) if timestamp else 0
    header = _HEADER.pack(version, mtype.encode("ascii"), device.encode("utf-8"), ts,
                          len(body) if body_size is None else body_size,
                          crc64(body) if crc is None else crc)
    return header + body


# ----------------------------------------------------------------------------- body

@dataclass(frozen=True)
class Body:
    """A body split into its content and metadata."""
    content: memoryview
    metadata: dict[str, str] = field(default_factory=dict)
    message_id: int = 0


def split_body(header: MessageHeader, body: bytes | bytearray | memoryview) -> Body:
    """Content and metadata of a body; ProtocolError when the section sizes do not add up."""
    view = memoryview(body)
    if header.version == 1:
        return Body(view)
    if len(view) < EXT_HEADER_MIN_SIZE:
        raise ProtocolError("body shorter than the extended header")
    ext_size, meta_header_size, meta_size, message_id = _EXT_HEADER.unpack_from(view, 0)
    if ext_size < EXT_HEADER_MIN_SIZE or ext_size + meta_header_size + meta_size > len(view):
        raise ProtocolError(f"extended header sizes ({ext_size}, {meta_header_size}, {meta_size}) "
                            f"do not fit a {len(view)}-byte body")
    content_end = len(view) - meta_header_size - meta_size
    metadata = _parse_metadata(view[content_end:], meta_header_size) if meta_header_size else {}
    return Body(view[ext_size:content_end], metadata, message_id)


def _parse_metadata(section: memoryview, header_size: int) -> dict[str, str]:
    """Key/value metadata; entries that do not fit are left out."""
    out: dict[str, str] = {}
    if header_size < 2:
        return out
    count = struct.unpack_from(">H", section, 0)[0]
    if 2 + 8 * count > header_size:
        return out
    pos = header_size
    for i in range(count):
        key_size, _encoding, value_size = struct.unpack_from(">HHI", section, 2 + 8 * i)
        if pos + key_size + value_size > len(section):
            break
        key = bytes(section[pos:pos + key_size]).decode("utf-8", errors="replace")
        value = bytes(section[pos + key_size:pos + key_size + value_size]).decode("utf-8", errors="replace")
        out[key] = value
        pos += key_size + value_size
    return out


@dataclass(frozen=True)
class ImageContent:
    """A decoded IMAGE message (one slice)."""
    pixels: np.ndarray                 # (rows, cols, components), native byte order
    scalar_type: int
    spacing: tuple[float, float]       # (row, column) pixel size in mm: |S|, |T| for a k=1 slice
    directions: np.ndarray             # (3, 3) unit column vectors for i, j, k in world space
    center: tuple[float, float, float]
    coordinate_system: str             # "RAS" or "LPS"


def parse_image(content: bytes | bytearray | memoryview) -> ImageContent:
    """IMAGE content (image header v1 layout + pixels); UnsupportedImage when unusable.

    Accepted: int8, uint8, int16, uint16, float32; 1, 3 or 4 components; 2D or a
    single-slice 3D image (any one axis of size 1); the whole image (no partial sub-volume).
    """
    view = memoryview(content)
    if len(view) < IMAGE_HEADER_SIZE:
        raise UnsupportedImage(f"IMAGE content of {len(view)} bytes is shorter than the "
                               f"{IMAGE_HEADER_SIZE}-byte image header")
    v = _IMAGE_HEADER.unpack_from(view, 0)
    components, stype, endian, coord = v[1], v[2], v[3], v[4]
    ri, rj, rk = v[5], v[6], v[7]
    matrix = np.array(v[8:17], dtype=np.float64).reshape(3, 3).T   # columns T, S, N
    center = tuple(float(x) for x in v[17:20])
    offset, sub_size = v[20:23], v[23:26]
    if stype not in SCALAR_TYPES:
        raise UnsupportedImage(f"unknown scalar type code {stype}")
    if stype not in SUPPORTED_SCALAR_TYPES:
        raise UnsupportedImage(f"scalar type {SCALAR_TYPES[stype].name} is not supported "
                               "(int8, uint8, int16, uint16, float32 are)")
    if components not in SUPPORTED_COMPONENTS:
        raise UnsupportedImage(f"{components} components per pixel is not supported (1, 3 or 4 are)")
    if ri == 0 or rj == 0 or rk == 0:
        raise UnsupportedImage(f"zero-size image {ri}x{rj}x{rk}")
    # One slice: the plane of the two axes longer than 1 (pyigtl sends a 2D array as 1 x W x H).
    if rk == 1:
        rows, cols, row_axis, col_axis = rj, ri, 1, 0
    elif ri == 1:
        rows, cols, row_axis, col_axis = rk, rj, 2, 1
    elif rj == 1:
        rows, cols, row_axis, col_axis = rk, ri, 2, 0
    else:
        raise UnsupportedImage(f"3D volume {ri}x{rj}x{rk} is not supported (2D or a single slice)")
    if tuple(offset) != (0, 0, 0) or tuple(sub_size) != (ri, rj, rk):
        raise UnsupportedImage("partial image (sub-volume) transfer is not supported")
    dtype = SCALAR_TYPES[stype]
    if dtype.itemsize > 1:
        if endian not in (ENDIAN_BIG, ENDIAN_LITTLE):
            raise UnsupportedImage(f"unknown pixel byte order code {endian}")
        dtype = dtype.newbyteorder(">" if endian == ENDIAN_BIG else "<")
    n_bytes = rows * cols * components * dtype.itemsize
    data = view[IMAGE_HEADER_SIZE:]
    if len(data) < n_bytes:
        raise UnsupportedImage(f"{cols}x{rows}x{components} image needs {n_bytes} pixel bytes, "
                               f"message has {len(data)}")
    pixels = np.frombuffer(data[:n_bytes], dtype=dtype).reshape(rows, cols, components)
    if not dtype.isnative:
        pixels = pixels.astype(dtype.newbyteorder("="))
    norms = np.linalg.norm(matrix, axis=0)
    directions = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return ImageContent(pixels=pixels, scalar_type=stype,
                        spacing=(float(norms[row_axis]), float(norms[col_axis])),
                        directions=directions, center=center,
                        coordinate_system="RAS" if coord == COORD_RAS else "LPS")


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_display_gray(pixels: np.ndarray) -> np.ndarray:
    """(rows, cols) uint8 grayscale of (rows, cols, components) pixels.

    Colour (3 or 4 components): ITU-R 601 luma of the first three (alpha ignored).
    uint8: unchanged. int8: negative values clipped to 0, then x2.
    uint16, int16, float32: the frame's own [min, max] window is stretched linearly
    to [0, 255], except float32 already within [0, 1] (a normalised image), which is
    multiplied by 255. NaN and infinities become 0. A constant frame becomes 0.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype == np.uint8:
        if pixels.shape[2] == 1:
            return pixels[:, :, 0].copy()
        gray = pixels[:, :, :3].astype(np.float32) @ _LUMA
        return np.clip(gray + 0.5, 0, 255).astype(np.uint8)
    if pixels.dtype == np.int8:
        chan = (pixels[:, :, 0].astype(np.float32) if pixels.shape[2] == 1
                else pixels[:, :, :3].astype(np.float32) @ _LUMA)
        return (np.clip(chan, 0, 127) * 2).astype(np.uint8)
    gray = (pixels[:, :, 0].astype(np.float32) if pixels.shape[2] == 1
            else pixels[:, :, :3].astype(np.float32) @ _LUMA)
    finite = np.isfinite(gray)
    if not finite.all():
        gray = np.where(finite, gray, 0.0).astype(np.float32)
    lo, hi = float(gray.min()), float(gray.max())
    if pixels.dtype == np.float32 and lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    if hi <= lo:
        return np.zeros(gray.shape, dtype=np.uint8)
    return np.clip((gray - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class StatusContent:
    """A STATUS message."""
    code: int
    subcode: int
    error_name: str
    message: str


STATUS_OK = 1


def parse_status(content: bytes | bytearray | memoryview) -> StatusContent:
    """STATUS content; ProtocolError when shorter than its fixed part."""
    view = memoryview(content)
    if len(view) < STATUS_HEADER_SIZE:
        raise ProtocolError(f"STATUS content of {len(view)} bytes is shorter than {STATUS_HEADER_SIZE}")
    code, subcode, name = _STATUS_HEADER.unpack_from(view, 0)
    text = bytes(view[STATUS_HEADER_SIZE:]).split(b"\x00", 1)[0]
    return StatusContent(code, subcode, name.split(b"\x00", 1)[0].decode("utf-8", "replace"),
                         text.decode("utf-8", "replace"))


def image_content(pixels: np.ndarray, spacing: tuple[float, float] = (1.0, 1.0),
                  scalar_type: int | None = None, components: int | None = None,
                  size: tuple[int, int, int] | None = None, endian: int = ENDIAN_LITTLE) -> bytes:
    """IMAGE content for (rows, cols[, comps]) pixels (tests, crafted streams); overrides allowed."""
    arr = np.asarray(pixels)
    comps = arr.shape[2] if arr.ndim == 3 else 1
    rows, cols = arr.shape[:2]
    if scalar_type is None:
        scalar_type = next(code for code, dt in SCALAR_TYPES.items() if dt == arr.dtype.newbyteorder("="))
    sy, sx = spacing
    ri, rj, rk = size if size is not None else (cols, rows, 1)
    head = _IMAGE_HEADER.pack(1, comps if components is None else components, scalar_type, endian,
                              COORD_LPS, ri, rj, rk,
                              sx, 0.0, 0.0, 0.0, sy, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0,
                              0, 0, 0, ri, rj, rk)
    order = ">" if endian == ENDIAN_BIG else "<"
    return head + arr.astype(arr.dtype.newbyteorder(order)).tobytes()


def status_content(code: int, subcode: int = 0, error_name: str = "", message: str = "") -> bytes:
    """STATUS content (tests, crafted streams)."""
    return _STATUS_HEADER.pack(code, subcode, error_name.encode("utf-8")) + message.encode("utf-8") + b"\x00"


# ----------------------------------------------------------------------------- stream

@dataclass(frozen=True)
class Message:
    """One complete message whose CRC matched (or was not checked)."""
    header: MessageHeader
    body: bytes


@dataclass(frozen=True)
class Corruption:
    """Bytes that were skipped: garbage, a bad CRC, an absurd size or a truncated message."""
    reason: str


class MessageReader:
    """Cuts a byte stream into messages, resynchronising after anything malformed.

    feed() takes whatever arrived and returns the messages and corruptions found so
    far. One Corruption is reported per bad stretch (a run of garbage counts once).
    A header is refused before its body is awaited when its BODY_SIZE exceeds
    max_body_bytes; a body whose CRC does not match is dropped and the reader looks
    for the next header from the byte after the bad header (so a truncated message
    followed by a good one loses only the truncated one). should_check_crc(header)
    can skip the CRC of messages the caller will ignore anyway.

    CRC work is bounded per byte received: every byte earns CRC_WORK_PER_BYTE bytes of checking
    (banked up to twice max_body_bytes), and a candidate message whose check would exceed what is
    earned is dropped as corrupt unchecked. A stream of headers that each claim a huge body over
    the same bytes then costs at most that much work instead of one full check per header.
    """

    def __init__(self, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 should_check_crc=None):
        self.max_body_bytes = max_body_bytes
        self._should_check_crc = should_check_crc or (lambda header: True)
        self._buf = bytearray()
        self._in_bad_stretch = False
        self._credit = 0
        self.bytes_fed = 0          # bytes received
        self.crc_bytes = 0          # bytes CRC-checked

    @property
    def pending(self) -> int:
        """Bytes held that do not yet form a whole message."""
        return len(self._buf)

    def discard(self) -> Corruption | None:
        """Drop the held bytes (connection lost or stalled); a Corruption when they were a partial message."""
        held = len(self._buf)
        self._buf.clear()
        bad = self._in_bad_stretch
        self._in_bad_stretch = False
        if held and not bad:
            return Corruption(f"{held} bytes of an unfinished message dropped")
        return None

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message | Corruption]:
        """Messages and corruptions completed by these bytes, in stream order."""
        buf = self._buf
        buf += data
        self.bytes_fed += len(data)
        self._credit = min(self._credit + CRC_WORK_PER_BYTE * len(data), 2 * self.max_body_bytes)
        out: list[Message | Corruption] = []
        pos = 0
        while len(buf) - pos >= HEADER_SIZE:
            try:
                header = parse_header(bytes(buf[pos:pos + HEADER_SIZE]), self.max_body_bytes)
            except ProtocolError as exc:
                self._bad(out, f"not a message header ({exc})")
                pos = find_header_start(buf, pos + 1, self.max_body_bytes)
                continue
            end = pos + HEADER_SIZE + header.body_size
            if end > len(buf):
                break
            check = self._should_check_crc(header)
            if check and header.body_size > self._credit:
                self._bad(out, f"{header.type} message from {header.device!r} dropped unchecked "
                               "(too much CRC work for the bytes received)")
                pos = find_header_start(buf, pos + 1, self.max_body_bytes)
                continue
            with memoryview(buf) as view:
                body = bytes(view[pos + HEADER_SIZE:end])
            if check:
                self._credit -= header.body_size
                self.crc_bytes += header.body_size
            if check and crc64(body) != header.crc:
                self._bad(out, f"CRC mismatch in {header.type} message from {header.device!r}")
                pos = find_header_start(buf, pos + 1, self.max_body_bytes)
                continue
            out.append(Message(header, body))
            self._in_bad_stretch = False
            pos = end
        if pos:
            del buf[:pos]
        return out

    def _bad(self, out: list, reason: str) -> None:
        if not self._in_bad_stretch:
            out.append(Corruption(reason))
        self._in_bad_stretch = True
