#!/usr/bin/env python3
"""A ClickHouse-HTTP-compatible front over chDB, for local development and tests only.

No registry ships a modern clickhouse-server for these machines, but PyPI's `chdb-core`
embeds the ClickHouse 26 engine without its network listeners. This front speaks the part
of ClickHouse's HTTP interface that the `clickhouse` Rust crate (0.15) uses with its
defaults, so the workspace's code and tests talk to the real engine. It is NOT a product:
it has no authentication, binds to loopback only, and refuses statements that would end
the process or read local files. See deploy/local/README.md.

Run: python chfront.py --host 127.0.0.1 --port 18123 --data-dir target/stack/clickhouse
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import queue
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, NamedTuple
from urllib.parse import parse_qsl, urlsplit

# chDB and the codecs are imported lazily (see main) so the pure helpers stay testable
# and importable by tools that only need the tokenizer.

READ_PIECE = 256 * 1024
MAX_QUERY_SIZE = 256 * 1024  # ClickHouse's default max_query_size.
MAX_FORM_SIZE = 16 * 1024 * 1024
LZ4_METHOD, NONE_METHOD = 0x82, 0x02
CHECKSUM_SIZE, BLOCK_HEADER_SIZE = 16, 9
SESSION_LOCK_WAIT_SECONDS = 5

# --------------------------------------------------------------------------- errors


class ClickHouseError(Exception):
    """An error reported the way ClickHouse reports it: a numeric code and its name."""

    def __init__(self, code: int, name: str, message: str):
        super().__init__(message)
        self.code, self.name, self.message = code, name, message

    def body(self, version: str = "") -> str:
        # The trailing "(version ...)" mirrors the server, whose clients look for `))`.
        suffix = f" (version {version} (official build))" if version else ""
        return f"Code: {self.code}. DB::Exception: {self.message} ({self.name}){suffix}\n"

    @property
    def http_status(self) -> int:
        return http_status_for(self.name)


_CODE_RE = re.compile(
    r"Code: (\d+)\. DB::Exception: (.*?)(?: \(([A-Z0-9_]+)\))?(?: \(version [^)]*\))?\s*$", re.S)

# ClickHouse's exceptionCodeToHTTPStatus, by error name, for the names a client can cause.
_STATUS_BY_NAME = {
    403: {"ACCESS_DENIED", "READONLY"},
    404: {"UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE",
          "UNKNOWN_STORAGE", "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_FORMAT",
          "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY",
          "SESSION_NOT_FOUND"},
    400: {"SYNTAX_ERROR", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
          "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME",
          "CANNOT_PARSE_NUMBER", "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "INCORRECT_DATA",
          "TYPE_MISMATCH", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE", "BAD_QUERY_PARAMETER",
          "UNKNOWN_QUERY_PARAMETER", "CHECKSUM_DOESNT_MATCH", "CANNOT_DECOMPRESS",
          "UNKNOWN_COMPRESSION_METHOD", "BAD_ARGUMENTS", "THERE_IS_NO_QUERY",
          "NUMBER_OF_COLUMNS_DOESNT_MATCH", "ILLEGAL_TYPE_OF_ARGUMENT", "INCORRECT_QUERY"},
    413: {"QUERY_IS_TOO_LARGE"},
    423: {"SESSION_IS_LOCKED"},
    501: {"NOT_IMPLEMENTED"},
}


def http_status_for(name: str) -> int:
    for status, names in _STATUS_BY_NAME.items():
        if name in names:
            return status
    return 500


def error_from_engine(exc: BaseException) -> ClickHouseError:
    """Recovers the engine's own code from chDB's exception text, whatever wrapped it."""
    text = str(exc)
    start = text.find("Code: ")
    match = _CODE_RE.match(text[start:]) if start >= 0 else None
    if match:
        return ClickHouseError(int(match.group(1)), match.group(3) or "UNKNOWN_EXCEPTION",
                               match.group(2).strip())
    return ClickHouseError(1001, "STD_EXCEPTION", text.strip() or type(exc).__name__)


def syntax_error(message: str) -> ClickHouseError:
    return ClickHouseError(62, "SYNTAX_ERROR", message)


def access_denied(message: str) -> ClickHouseError:
    return ClickHouseError(497, "ACCESS_DENIED", message)


# ------------------------------------------------------------------------ tokenizer


class Token(NamedTuple):
    kind: str  # word, string, quoted, punct, semicolon, space, comment
    text: str
    start: int
    end: int


_WORD_CHAR = re.compile(r"[0-9A-Za-z_$\x80-\U0010ffff]")


def tokenize(sql: str) -> Iterator[Token]:
    """Yields ClickHouse lexical tokens lazily, so callers can stop before binary data.

    Only what decides statement boundaries matters here: string literals, quoted
    identifiers, heredocs and comments (where `;` is not a separator) versus the rest.
    """
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            j = i + 1
            while j < n and sql[j].isspace():
                j += 1
            yield Token("space", sql[i:j], i, j)
        elif sql.startswith("--", i) or c == "#":
            j = sql.find("\n", i)
            j = n if j < 0 else j + 1
            yield Token("comment", sql[i:j], i, j)
        elif sql.startswith("/*", i):
            j, depth = i + 2, 1
            while depth:
                if j >= n:
                    raise syntax_error("unterminated multi-line comment")
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            yield Token("comment", sql[i:j], i, j)
        elif c in "'`\"":
            j = _quoted_end(sql, i)
            yield Token("string" if c == "'" else "quoted", sql[i:j], i, j)
        elif c == "$" and (heredoc := re.match(r"\$([A-Za-z0-9_]*)\$", sql[i:])):
            tag = heredoc.group(0)
            close = sql.find(tag, i + len(tag))
            if close < 0:
                raise syntax_error("unterminated heredoc")
            j = close + len(tag)
            yield Token("string", sql[i:j], i, j)
        elif _WORD_CHAR.match(c):
            j = i + 1
            while j < n and (_WORD_CHAR.match(sql[j]) or (sql[j] == "." and sql[i].isdigit())):
                j += 1
            yield Token("word", sql[i:j], i, j)
        else:
            yield Token("semicolon" if c == ";" else "punct", c, i, i + 1)
            i += 1
            continue
        i = j


def _quoted_end(sql: str, start: int) -> int:
    quote, j, n = sql[start], start + 1, len(sql)
    while j < n:
        if sql[j] == "\\":
            j += 2
        elif sql[j] == quote:
            if j + 1 < n and sql[j + 1] == quote:  # a doubled quote is an escaped quote
                j += 2
            else:
                return j + 1
        else:
            j += 1
    raise syntax_error(f"unterminated {quote}-quoted text")


def significant(tokens: Iterator[Token]) -> Iterator[Token]:
    return (t for t in tokens if t.kind not in ("space", "comment"))


def single_statement(sql: str) -> str:
    """Returns the one statement in `sql` without a trailing `;`, or refuses several.

    chDB would run `a; b` as two statements; ClickHouse's HTTP interface runs one.
    """
    tokens = list(significant(tokenize(sql)))
    if tokens and tokens[-1].kind == "semicolon":
        tokens.pop()  # one trailing `;` is fine
    if any(t.kind == "semicolon" for t in tokens):
        raise syntax_error("Multi-statements are not allowed")
    if not tokens:
        raise ClickHouseError(393, "THERE_IS_NO_QUERY", "Empty query")
    return sql[tokens[0].start:tokens[-1].end]


class InsertData(NamedTuple):
    head_end: int  # end of `INSERT INTO t (...) [SETTINGS ...]`, before FORMAT/VALUES
    format: str
    data_start: int  # where the inline data begins


def find_insert_data(text: str) -> InsertData | None:
    """Finds where an `INSERT ... FORMAT X` / `INSERT ... VALUES` statement's data begins.

    `text` may continue with binary data, so tokens are read only up to the format name.
    Returns None for anything else (including `INSERT ... SELECT`), or when `text` stops
    before the data clause.
    """
    tokens = significant(tokenize(text))
    try:
        first = next(tokens)
        if first.kind != "word" or first.text.upper() != "INSERT":
            return None
        depth = 0
        for token in tokens:
            if token.kind == "punct" and token.text in "([":
                depth += 1
            elif token.kind == "punct" and token.text in ")]":
                depth -= 1
            elif depth == 0 and token.kind == "word":
                word = token.text.upper()
                if word in ("SELECT", "WITH"):
                    return None
                if word == "VALUES":
                    return InsertData(token.start, "Values", token.end)
                if word == "FORMAT":
                    name = next(tokens)
                    fmt = name.text if name.kind == "word" else unquote_identifier(name.text)
                    return InsertData(token.start, fmt, _skip_to_data(text, name.end))
    except StopIteration:
        return None
    except ClickHouseError:
        return None  # the prefix ended inside a token: not a complete INSERT head
    return None


def _skip_to_data(text: str, pos: int) -> int:
    # Like ClickHouse: data starts after blanks and at most one line break, so a RowBinary
    # body whose first byte happens to be whitespace is not eaten.
    while pos < len(text) and text[pos] in " \t\f":
        pos += 1
    if text.startswith("\r", pos):
        pos += 1
    if text.startswith("\n", pos):
        pos += 1
    return pos


def unquote_identifier(text: str) -> str:
    if text[:1] in ("`", '"'):
        return re.sub(r"\\(.)|``|\"\"", lambda m: m.group(1) or m.group(0)[0], text[1:-1])
    return text


def quote_identifier(name: str) -> str:
    """Quotes any identifier so it stays one identifier (same rules as ch-support)."""
    escaped = name.replace("\\", "\\\\").replace("`", "\\`").replace("\0", "\\0")
    return f"`{escaped}`"


def quote_string(value: str) -> str:
    escaped = (value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0")
               .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    return f"'{escaped}'"


# --------------------------------------------------------------- statement policy

# chDB formats every streamed chunk as a complete result: header formats repeat their
# header in each chunk, and document formats (JSON, Pretty, XML, Parquet, ...) are whole
# documents. So row formats stream, header formats stream with repeats cut, and the rest
# are produced in one piece.
ROW_FORMATS = {"tabseparated", "tsv", "tabseparatedraw", "tsvraw", "csv", "rowbinary",
               "jsoneachrow", "jsonlines", "ndjson", "jsoncompacteachrow",
               "jsonstringseachrow", "jsoncompactstringseachrow", "native", "lineasstring",
               "rawblob", "null"}
TEXT_HEADER_LINES = {"tabseparatedwithnames": 1, "tsvwithnames": 1, "csvwithnames": 1,
                     "tabseparatedwithnamesandtypes": 2, "tsvwithnamesandtypes": 2,
                     "csvwithnamesandtypes": 2, "jsoncompacteachrowwithnames": 1,
                     "jsoncompacteachrowwithnamesandtypes": 2}
BINARY_HEADER_LISTS = {"rowbinarywithnames": 1, "rowbinarywithnamesandtypes": 2}
STREAMING_KINDS = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "("}
READONLY_KINDS = STREAMING_KINDS
# Table functions and engines that reach outside the data directory (local files, other
# processes, the network). A dev front must not become a file reader for anyone on the box.
DENIED_CALLS = {
    "file", "filecluster", "url", "urlcluster", "s3", "s3cluster", "gcs", "hdfs",
    "hdfscluster", "azureblobstorage", "azureblobstoragecluster", "remote", "remotesecure",
    "cluster", "clusterallreplicas", "mysql", "postgresql", "sqlite", "mongodb", "redis",
    "jdbc", "odbc", "executable", "executablepool", "deltalake", "hudi", "iceberg",
    "icebergs3", "icebergazure", "icebergbyhdfs", "icebergbylocal", "paimon", "arrowflight",
    "python", "ytsaurus", "http", "oss", "cosn", "hive", "kafka", "rabbitmq", "nats",
    "materializedpostgresql", "materializedmysql", "filelog",
}
DENIED_WORDS = {"INFILE", "OUTFILE"}
DENIED_SYSTEM = {"SHUTDOWN", "KILL"}
# Statements whose effect outlives the request on the connection that ran them.
SESSION_ONLY = {"SET", "USE"}


def statement_kind(tokens: list[Token]) -> str:
    return tokens[0].text.upper() if tokens and tokens[0].kind in ("word", "punct") else ""


def check_policy(statement: str, *, in_session: bool, readonly: bool) -> str:
    """Refuses what this front must not run; returns the statement kind."""
    tokens = list(significant(tokenize(statement)))
    kind = statement_kind(tokens)
    for index, token in enumerate(tokens):
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        name = unquote_identifier(token.text) if token.kind == "quoted" else token.text
        if (token.kind in ("word", "quoted") and after is not None and after.text == "("
                and name.lower() in DENIED_CALLS):
            raise access_denied(f"{name}() is not allowed by this dev front")
        if token.kind != "word":
            continue
        word = token.text.upper()
        if (kind == "ATTACH" and word == "FROM" and after is not None
                and after.kind == "string"):
            raise access_denied("ATTACH ... FROM a path is not allowed by this dev front")
        if word in DENIED_WORDS:
            raise access_denied(f"{word} is not allowed by this dev front")
        if word == "SYSTEM" and after is not None and after.text.upper() in DENIED_SYSTEM:
            raise access_denied(f"SYSTEM {after.text.upper()} is not allowed by this dev front")
        if word == "TEMPORARY" and not in_session:
            raise ClickHouseError(
                48, "NOT_IMPLEMENTED", "temporary tables need a session_id on this front")
    if kind in SESSION_ONLY and not in_session:
        raise ClickHouseError(
            48, "NOT_IMPLEMENTED",
            f"{kind} without session_id would leak into pooled connections; pass session_id")
    if readonly and kind not in READONLY_KINDS:
        raise ClickHouseError(164, "READONLY",
                              "Cannot execute query in readonly mode (GET requests are read-only)")
    return kind


def header_length(fmt: str, chunk: bytes) -> int:
    """Length of the header that chDB repeats at the start of each chunk of `fmt`."""
    fmt = fmt.lower()
    pos = 0
    if fmt in TEXT_HEADER_LINES:
        for _ in range(TEXT_HEADER_LINES[fmt]):
            pos = chunk.index(b"\n", pos) + 1
    elif fmt in BINARY_HEADER_LISTS:
        columns, pos = read_varint(chunk, 0)
        for _ in range(columns * BINARY_HEADER_LISTS[fmt]):  # names, then types
            size, pos = read_varint(chunk, pos)
            pos += size
    return pos


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def output_format(statement: str) -> str | None:
    """The `FORMAT X` a statement names itself, if any (it overrides default_format)."""
    tokens = list(significant(tokenize(statement)))
    depth, found = 0, None
    for index, token in enumerate(tokens[:-1]):
        if token.kind == "punct" and token.text in "([":
            depth += 1
        elif token.kind == "punct" and token.text in ")]":
            depth -= 1
        elif (depth == 0 and token.kind == "word" and token.text.upper() == "FORMAT"
              and tokens[index + 1].kind in ("word", "quoted")):
            found = unquote_identifier(tokens[index + 1].text)
    return found


# --------------------------------------------------------------- request bodies


def read_body(rfile, headers) -> Iterator[bytes]:
    """Yields the request body in pieces, de-chunking `Transfer-Encoding: chunked`."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        while True:
            size_line = rfile.readline(1024)
            if not size_line:
                raise ClickHouseError(117, "INCORRECT_DATA", "client ended the chunked body early")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ClickHouseError(117, "INCORRECT_DATA", "malformed chunked body") from None
            if size == 0:
                while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            remaining = size
            while remaining:
                piece = rfile.read(min(remaining, READ_PIECE))
                if not piece:
                    raise ClickHouseError(117, "INCORRECT_DATA", "body ended inside a chunk")
                remaining -= len(piece)
                yield piece
            rfile.readline(1024)
    else:
        remaining = int(headers.get("Content-Length") or 0)
        while remaining > 0:
            piece = rfile.read(min(remaining, READ_PIECE))
            if not piece:
                raise ClickHouseError(117, "INCORRECT_DATA", "body shorter than Content-Length")
            remaining -= len(piece)
            yield piece


def block_checksum(header_and_payload: bytes) -> bytes:
    """CityHash128 (v1.0.2) of a compressed block, as ClickHouse lays it out on the wire."""
    from clickhouse_cityhash.cityhash import CityHash128

    digest = CityHash128(header_and_payload)
    low, high = digest & ((1 << 64) - 1), digest >> 64
    return high.to_bytes(8, "little") + low.to_bytes(8, "little")


def decompress_blocks(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Decodes ClickHouse compressed blocks (`decompress=1`) one block at a time.

    Layout: 16-byte checksum, method byte, u32 LE size of header+payload, u32 LE
    uncompressed size, payload. Only whole blocks are held, never the whole body.
    """
    import lz4.block

    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= CHECKSUM_SIZE + BLOCK_HEADER_SIZE:
            method = buffer[CHECKSUM_SIZE]
            compressed_size = int.from_bytes(buffer[17:21], "little")
            uncompressed_size = int.from_bytes(buffer[21:25], "little")
            if compressed_size < BLOCK_HEADER_SIZE:
                raise ClickHouseError(271, "CANNOT_DECOMPRESS", "compressed block too small")
            total = CHECKSUM_SIZE + compressed_size
            if len(buffer) < total:
                break
            block = bytes(buffer[CHECKSUM_SIZE:total])
            if block_checksum(block) != bytes(buffer[:CHECKSUM_SIZE]):
                raise ClickHouseError(40, "CHECKSUM_DOESNT_MATCH",
                                      "Checksum doesn't match: corrupted data")
            payload = block[BLOCK_HEADER_SIZE:]
            if method == LZ4_METHOD:
                try:
                    data = lz4.block.decompress(payload, uncompressed_size=uncompressed_size)
                except lz4.block.LZ4BlockError as exc:
                    raise ClickHouseError(271, "CANNOT_DECOMPRESS", str(exc)) from None
            elif method == NONE_METHOD:
                data = payload
            else:
                raise ClickHouseError(89, "UNKNOWN_COMPRESSION_METHOD",
                                      f"Unknown compression method: 0x{method:02x}")
            del buffer[:total]
            yield data
    if buffer:
        raise ClickHouseError(271, "CANNOT_DECOMPRESS", "body ended inside a compressed block")


def parse_multipart(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """Reads `multipart/form-data` fields (the crate sends `query` and `param_*` so)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ClickHouseError(36, "BAD_ARGUMENTS", "multipart body without boundary")
    delimiter = b"--" + match.group(1).encode()
    fields = []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            raise ClickHouseError(36, "BAD_ARGUMENTS", "malformed multipart part")
        disposition = head.decode("latin-1")
        if "filename=" in disposition:
            raise ClickHouseError(48, "NOT_IMPLEMENTED", "external data is not supported")
        name = re.search(r'name="([^"]*)"', disposition)
        if not name:
            raise ClickHouseError(36, "BAD_ARGUMENTS", "multipart part without a name")
        fields.append((name.group(1), value.removesuffix(b"\r\n").decode("utf-8")))
    return fields


# ------------------------------------------------------------------ request model

# URL parameters that steer the HTTP exchange and are not engine settings.
HTTP_ONLY_PARAMS = {
    "query", "database", "default_format", "decompress", "compress", "session_id",
    "session_timeout", "session_check", "query_id", "user", "password", "quota_key", "role",
    "buffer_size", "wait_end_of_query", "enable_http_compression",
    "http_zlib_compression_level", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "add_http_cors_header", "stacktrace",
}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Formats that chDB's Python layer turns into pandas/pyarrow objects instead of bytes.
PYTHON_ONLY_FORMATS = {"dataframe", "arrowtable", "datastore"}


class Request(NamedTuple):
    query: str  # URL (or form) query text; may be empty when the body holds it
    database: str | None
    default_format: str
    settings: dict[str, str]
    params: dict[str, str]
    session_id: str | None
    session_timeout: float
    session_check: bool
    decompress: bool
    query_id: str


def parse_request(pairs: list[tuple[str, str]]) -> Request:
    """Sorts URL/form parameters into query text, settings and query parameters."""
    values: dict[str, str] = {}
    settings: dict[str, str] = {}
    params: dict[str, str] = {}
    for name, value in pairs:
        if name.startswith("param_"):
            key = name[len("param_"):]
            if not _IDENT.match(key):
                raise ClickHouseError(457, "BAD_QUERY_PARAMETER", f"bad parameter name {name!r}")
            params[key] = value
        elif name in HTTP_ONLY_PARAMS:
            if name == "query" and "query" in values:
                raise ClickHouseError(36, "BAD_ARGUMENTS", "query given twice")
            values[name] = value
        elif _IDENT.match(name):
            settings[name] = value
        else:
            raise ClickHouseError(115, "UNKNOWN_SETTING", f"Unknown setting {name!r}")
    default_format = values.get("default_format") or "TabSeparated"
    if default_format.lower() in PYTHON_ONLY_FORMATS:
        raise ClickHouseError(73, "UNKNOWN_FORMAT", f"Unknown format {default_format}")
    try:
        session_timeout = float(values.get("session_timeout") or 60)
    except ValueError:
        raise ClickHouseError(36, "BAD_ARGUMENTS", "session_timeout is not a number") from None
    return Request(
        query=values.get("query", ""),
        database=values.get("database") or None,
        default_format=default_format,
        settings=settings,
        params=params,
        session_id=values.get("session_id") or None,
        session_timeout=session_timeout,
        session_check=values.get("session_check") == "1",
        decompress=values.get("decompress") == "1",
        query_id=values.get("query_id") or str(uuid.uuid4()),
    )


# ------------------------------------------------------------------------- engine


class EngineConnection:
    """One chDB connection plus what we know of its per-connection state."""

    def __init__(self, chdb_module, path: str):
        self.conn = chdb_module.connect(path)
        self.database = "default"

    def run(self, sql: str, fmt: str = "TabSeparated", params=None) -> bytes:
        try:
            result = self.conn.query(sql, fmt, params=params)
        except Exception as exc:  # chDB raises ChdbError/RuntimeError with the engine text
            raise error_from_engine(exc) from None
        return as_bytes(result)

    @contextlib.contextmanager
    def scoped(self, request: Request, in_session: bool):
        """Applies the request's database and settings, restoring them afterwards."""
        # Always issued, never skipped on a cached value: the engine's current database
        # was seen to drift from what this object last set (4 of 10 requests with
        # `?database=` ran in `default`), so a cache cannot be trusted.
        if request.database:
            self.run(f"USE {quote_identifier(request.database)}")
            self.database = request.database
        elif not in_session:
            self.run("USE default")
            self.database = "default"
        previous = {}
        if request.settings:
            names = ", ".join(quote_string(name) for name in request.settings)
            rows = self.run(f"SELECT name, value, changed FROM system.settings "
                            f"WHERE name IN ({names})", "JSONEachRow")
            previous = {row["name"]: row for row in map(json.loads, rows.splitlines())}
            unknown = set(request.settings) - set(previous)
            if unknown:
                raise ClickHouseError(115, "UNKNOWN_SETTING", f"Unknown setting {min(unknown)}")
        try:
            for name, value in request.settings.items():
                self.run(f"SET {quote_identifier(name)} = {quote_string(value)}")
            yield self
        finally:
            for name, row in previous.items():
                old = quote_string(row["value"]) if row["changed"] else "DEFAULT"
                with contextlib.suppress(ClickHouseError):
                    self.run(f"SET {quote_identifier(name)} = {old}")


def as_bytes(result) -> bytes:
    if result is None:
        return b""
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode()
    return result.bytes()


class Session(NamedTuple):
    connection: EngineConnection
    lock: threading.Lock
    last_used: list  # [float], mutable so the tuple can stay immutable


class Engine:
    """A pool of chDB connections on one data path, plus one per live `session_id`.

    A session gets a dedicated connection so its `SET`/`USE`/temporary tables never reach
    another client; requests in one session are serialized like ClickHouse does.
    """

    def __init__(self, data_dir: str, pool_size: int, max_sessions: int = 16):
        import chdb

        self._chdb, self._path = chdb, data_dir
        self._pool: queue.Queue[EngineConnection] = queue.Queue()
        for _ in range(pool_size):
            self._pool.put(EngineConnection(chdb, data_dir))
        self._sessions: dict[str, Session] = {}
        self._sessions_lock = threading.Lock()
        self._max_sessions = max_sessions
        self.version = self._pool.queue[0].run("SELECT version()").decode().strip()

    @contextlib.contextmanager
    def connection(self, request: Request):
        if request.session_id is None:
            conn, reusable = self._pool.get(), False
            try:
                with conn.scoped(request, in_session=False):
                    yield conn
                reusable = True
            except ClickHouseError:
                reusable = True  # the engine reported it; the connection is fine
                raise
            finally:
                # A client that vanished mid-stream may leave chDB's stream open, and an
                # open stream makes the connection's next query return nothing.
                self._pool.put(conn if reusable else EngineConnection(self._chdb, self._path))
            return
        session = self._session(request)
        # Wait a little: the previous request of this session may still be restoring its
        # settings after its client already got the response.
        if not session.lock.acquire(timeout=SESSION_LOCK_WAIT_SECONDS):
            raise ClickHouseError(373, "SESSION_IS_LOCKED",
                                  f"Session {request.session_id} is locked by a concurrent client")
        try:
            with session.connection.scoped(request, in_session=True):
                yield session.connection
        finally:
            session.last_used[0] = time.monotonic() + request.session_timeout
            session.lock.release()

    def close(self):
        """Closes idle connections; ones still serving a request end with the process."""
        with self._sessions_lock:
            connections = [session.connection for session in self._sessions.values()]
            self._sessions.clear()
        while not self._pool.empty():
            connections.append(self._pool.get_nowait())
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.conn.close()

    def _session(self, request: Request) -> Session:
        with self._sessions_lock:
            now = time.monotonic()
            for sid, old in list(self._sessions.items()):
                if old.last_used[0] < now and not old.lock.locked():
                    del self._sessions[sid]  # expired: its connection closes when collected
            session = self._sessions.get(request.session_id)
            if session is None:
                if request.session_check:
                    raise ClickHouseError(372, "SESSION_NOT_FOUND",
                                          f"Session {request.session_id} not found")
                if len(self._sessions) >= self._max_sessions:
                    raise ClickHouseError(202, "TOO_MANY_SIMULTANEOUS_QUERIES",
                                          "too many open sessions on this dev front")
                session = Session(EngineConnection(self._chdb, self._path), threading.Lock(),
                                  [now + request.session_timeout])
                self._sessions[request.session_id] = session
            return session


# ------------------------------------------------------------------ HTTP handling


def content_type_for(fmt: str) -> str:
    lower = fmt.lower()
    if lower.startswith("json"):
        return "application/json; charset=UTF-8"
    if lower.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if lower.startswith("csv"):
        return "text/csv; charset=UTF-8"
    return "application/octet-stream"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "chfront"
    engine: Engine  # set by serve()

    def log_request(self, code="-", size="-"):
        pass  # _handle writes one line per request, with what it did

    def do_GET(self):
        self._handle(readonly=True)

    def do_POST(self):
        self._handle(readonly=False)

    def _handle(self, readonly: bool):
        started = time.monotonic()
        self._status, self._summary, self._body_done = 0, "", False
        self._raw_body: Iterator[bytes] = iter(())
        url = urlsplit(self.path)
        try:
            try:
                if getattr(self.server, "stopping", False):
                    # A stopped server must look stopped at once: keep-alive connections
                    # would otherwise go on being served until the process exits.
                    self.close_connection = True
                    raise ClickHouseError(210, "NETWORK_ERROR", "the server is shutting down")
                if url.path == "/ping" or (url.path == "/" and not url.query and readonly):
                    self._send_full(200, b"Ok.\n", "text/plain; charset=UTF-8")
                elif url.path != "/":
                    raise ClickHouseError(48, "NOT_IMPLEMENTED", f"no handler for {url.path}")
                else:
                    self._execute(url.query, readonly)
            except ClickHouseError as exc:
                self._drain_body()
                self._send_error(exc)
            except OSError:
                raise
            except Exception as exc:  # keep serving; report it like the server would
                self._drain_body()
                self._send_error(ClickHouseError(1001, "STD_EXCEPTION",
                                                 f"{type(exc).__name__}: {exc}"))
        except OSError:  # the client went away (reset, broken pipe, timeout)
            self.close_connection = True
            self._status = self._status or 499
            self._summary += " client-gone"
        if not self._body_done:
            self.close_connection = True  # unread body bytes would poison keep-alive
        elapsed_ms = (time.monotonic() - started) * 1000
        sys.stderr.write(f"{self.command} {url.path} {self._status} {elapsed_ms:.1f}ms "
                         f"{self._summary}\n")

    def _execute(self, url_query: str, readonly: bool):
        pairs = parse_qsl(url_query, keep_blank_values=True)
        content_type = self.headers.get("Content-Type", "")
        body = self._raw_body = self._tracked(read_body(self.rfile, self.headers))
        if content_type.startswith("multipart/form-data"):
            raw = self._read_limited(body, MAX_FORM_SIZE, "form body")
            pairs += parse_multipart(raw, content_type)
            body = iter(())
        request = parse_request(pairs)
        if request.decompress:
            body = decompress_blocks(body)
        statement, insert, data = self._split(request.query, body)
        in_session = request.session_id is not None
        kind = check_policy(statement, in_session=in_session, readonly=readonly)
        self._summary = f"{kind.lower()} session={request.session_id or '-'}"
        with self.engine.connection(request) as conn:
            if insert is not None:
                self._insert(conn, statement, insert, data, request)
            else:
                fmt = output_format(statement) or request.default_format
                if fmt.lower() in PYTHON_ONLY_FORMATS:
                    raise ClickHouseError(73, "UNKNOWN_FORMAT", f"Unknown format {fmt}")
                self._query(conn, statement, kind, fmt, request)

    def _drain_body(self):
        """Reads what the client is still sending, so it sees our error, not a reset."""
        if not self._status:
            with contextlib.suppress(Exception):
                for _ in self._raw_body:
                    pass

    def _tracked(self, body: Iterator[bytes]) -> Iterator[bytes]:
        yield from body
        self._body_done = True

    def _read_limited(self, body: Iterator[bytes], limit: int, what: str) -> bytes:
        collected = bytearray()
        for piece in body:
            collected += piece
            if len(collected) > limit:
                raise ClickHouseError(229, "QUERY_IS_TOO_LARGE", f"{what} exceeds {limit} bytes")
        return bytes(collected)

    def _split(self, url_query: str, body: Iterator[bytes]):
        """Splits URL query + body into (statement, insert clause, data pieces).

        Like ClickHouse, the text is the URL query, a newline, then the body; for an
        INSERT with FORMAT/VALUES the data starts after the format name and streams on.
        """
        prefix = (url_query + "\n").encode() if url_query else b""
        insert = find_insert_data(prefix.decode("latin-1"))
        exhausted = True
        if insert is None:
            body_prefix = self._take(body, MAX_QUERY_SIZE + 1)
            exhausted = len(body_prefix) <= MAX_QUERY_SIZE
            prefix += body_prefix
            insert = find_insert_data(prefix.decode("latin-1"))
        if insert is not None:
            head = prefix[:insert.head_end].decode("utf-8", errors="strict")
            inline = prefix[insert.data_start:]
            data = _chain([inline] if inline else [], body)
            return single_statement(head), insert, data
        if not exhausted:
            raise ClickHouseError(229, "QUERY_IS_TOO_LARGE",
                                  f"Max query size exceeded ({MAX_QUERY_SIZE} bytes)")
        try:
            text = prefix.decode("utf-8")
        except UnicodeDecodeError:
            raise syntax_error("query text is not valid UTF-8") from None
        return single_statement(text), None, iter(())

    @staticmethod
    def _take(body: Iterator[bytes], limit: int) -> bytes:
        taken = bytearray()
        for piece in body:
            taken += piece
            if len(taken) >= limit:
                break
        return bytes(taken)

    def _insert(self, conn: EngineConnection, head: str, insert: InsertData, data, request):
        if insert.format.lower() in PYTHON_ONLY_FORMATS:
            raise ClickHouseError(73, "UNKNOWN_FORMAT", f"Unknown format {insert.format}")
        if request.params:
            raise ClickHouseError(48, "NOT_IMPLEMENTED", "query parameters in INSERT with data")
        try:
            inserter = conn.conn.send_insert(head, insert.format)
        except Exception as exc:
            raise error_from_engine(exc) from None
        try:
            for piece in data:
                inserter.append(piece)
            result = inserter.finish()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                inserter.cancel()
            if isinstance(exc, (ClickHouseError, OSError)):  # ours, or the client is gone
                raise
            raise error_from_engine(exc) from None
        self._summary += f" rows={result.rows_written}"
        summary = json.dumps({"read_rows": "0", "read_bytes": "0",
                              "written_rows": str(result.rows_written),
                              "written_bytes": str(result.bytes_written),
                              "total_rows_to_read": "0", "result_rows": "0",
                              "result_bytes": "0", "elapsed_ns": str(int(result.elapsed * 1e9))},
                             separators=(",", ":"))
        self._send_full(200, b"", "text/plain; charset=UTF-8",
                        {"X-ClickHouse-Summary": summary, "X-ClickHouse-Query-Id": request.query_id})

    def _query(self, conn: EngineConnection, statement: str, kind: str, fmt: str, request):
        headers = {"X-ClickHouse-Format": fmt, "X-ClickHouse-Query-Id": request.query_id,
                   "X-ClickHouse-Timezone": "UTC"}
        lower = fmt.lower()
        streamable = lower in ROW_FORMATS or lower in TEXT_HEADER_LINES or (
            lower in BINARY_HEADER_LISTS)
        first = None
        if kind in STREAMING_KINDS and streamable:
            try:
                stream = conn.conn.send_query(statement, fmt, params=request.params)
                first = stream.fetch()
            except Exception as exc:
                error = error_from_engine(exc)
                # chDB streams only some statement kinds (not SHOW CREATE, say); those are small.
                if "Streaming query is not supported" not in error.message:
                    raise error from None
        if first is None:  # not streamable, or empty (then only the one-piece form has a header)
            data = conn.run(statement, fmt, request.params)
            self._send_full(200, data, content_type_for(fmt), headers)
            return
        tag = uuid.uuid4().hex[:16]
        headers["X-ClickHouse-Exception-Tag"] = tag
        self._start_chunked(200, content_type_for(fmt), headers)
        rows = 0
        try:
            data = first.bytes()
            header = data[:header_length(fmt, data)]
            rows += first.rows_read()
            self._write_chunk(data)
            while (chunk := stream.fetch()) is not None:
                rows += chunk.rows_read()
                data = chunk.bytes()
                cut = len(header) if header and data.startswith(header) else 0
                self._write_chunk(memoryview(data)[cut:])
        except (BrokenPipeError, ConnectionResetError):
            with contextlib.suppress(Exception):
                stream.cancel()
            raise
        except Exception as exc:
            # Headers are gone; use the server's in-band exception block so the crate
            # reports the error instead of a truncated result.
            message = (error_from_engine(exc).body(self.engine.version)).encode()
            block = (b"\r\n__exception__\r\n" + tag.encode() + b"\r\n" + message
                     + str(len(message)).encode() + b" " + tag.encode()
                     + b"\r\n__exception__\r\n")
            self._write_chunk(block)
            self._summary += " failed-mid-stream"
            self.close_connection = True
        self._summary += f" rows={rows}"
        self.wfile.write(b"0\r\n\r\n")

    # --- response writing

    def _common_headers(self, status: int, content_type: str, extra: dict | None):
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-ClickHouse-Server-Display-Name", "chfront")
        for name, value in (extra or {}).items():
            self.send_header(name, value)

    def _send_full(self, status: int, body: bytes, content_type: str, extra: dict | None = None):
        self._common_headers(status, content_type, extra)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _start_chunked(self, status: int, content_type: str, extra: dict):
        self._common_headers(status, content_type, extra)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, data):
        if len(data):
            self.wfile.write(b"%x\r\n" % len(data))
            self.wfile.write(data)
            self.wfile.write(b"\r\n")

    def _send_error(self, exc: ClickHouseError):
        if self._status:  # headers already sent; nothing sane left to say
            self.close_connection = True
            return
        self._summary += f" code={exc.code}"
        if not self._body_done:
            self.close_connection = True
        self._send_full(exc.http_status, exc.body(self.engine.version).encode(),
                        "text/plain; charset=UTF-8",
                        {"X-ClickHouse-Exception-Code": str(exc.code)})


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


# ----------------------------------------------------------------------- startup


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="ClickHouse-HTTP-compatible front over chDB (development and tests only).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind; must be loopback unless --allow-non-loopback")
    parser.add_argument("--port", type=int, default=18123, help="TCP port to listen on")
    parser.add_argument("--data-dir", required=True,
                        help="chDB data directory; created if missing, kept across restarts")
    parser.add_argument("--pool-size", type=int, default=4,
                        help="chDB connections shared by requests without session_id")
    parser.add_argument("--allow-non-loopback", action="store_true",
                        help="permit binding a non-loopback address (this front has no auth)")
    return parser.parse_args(argv)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace) -> ThreadingHTTPServer:
    """Builds the server (not yet serving) so tests can run it on a thread."""
    if not is_loopback(args.host) and not args.allow_non_loopback:
        raise SystemExit(f"refusing to bind non-loopback address {args.host} "
                         "(this front has no authentication); pass --allow-non-loopback")
    os.makedirs(args.data_dir, exist_ok=True)
    engine = Engine(os.path.abspath(args.data_dir), args.pool_size)
    handler = type("BoundHandler", (Handler,), {"engine": engine})
    server = ThreadingHTTPServer((args.host, args.port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    server = serve(args)

    def stop(signum, _frame):
        sys.stderr.write(f"chfront: signal {signum}, shutting down\n")
        server.stopping = True
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    sys.stderr.write(f"chfront: listening on http://{host}:{port} data={args.data_dir} "
                     f"engine={server.RequestHandlerClass.engine.version}\n")
    server.serve_forever()
    server.server_close()
    # Closing chDB during interpreter teardown can deadlock (its threads want the GIL), so
    # close it first, give that a bounded time, and leave without the teardown.
    closer = threading.Thread(target=server.RequestHandlerClass.engine.close, daemon=True)
    closer.start()
    closer.join(timeout=10)
    sys.stderr.write(f"chfront: stopped{'' if not closer.is_alive() else ' (engine close timed out)'}\n")
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
