"""Tests of chfront.py: its pure helpers, then HTTP against a real front on a temp dir.

Run: ~/.cache/phase4/tools/chdb-venv/bin/python -m unittest discover -s deploy/local
"""

import http.client
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

import chfront


def compressed_block(data: bytes, method: int = chfront.LZ4_METHOD) -> bytes:
    """Builds one ClickHouse compressed block the way the Rust crate does."""
    import lz4.block

    payload = lz4.block.compress(data, store_size=False) if method == chfront.LZ4_METHOD else data
    header = struct.pack("<BII", method, chfront.BLOCK_HEADER_SIZE + len(payload), len(data))
    return chfront.block_checksum(header + payload) + header + payload


class StatementSplitting(unittest.TestCase):
    def test_one_statement_with_trailing_semicolon_is_accepted(self):
        self.assertEqual(chfront.single_statement("SELECT 1 ; \n"), "SELECT 1")

    def test_two_statements_are_refused(self):
        with self.assertRaises(chfront.ClickHouseError) as caught:
            chfront.single_statement("SELECT 1; SELECT 2")
        self.assertEqual(caught.exception.code, 62)
        self.assertIn("Multi-statements", caught.exception.message)

    def test_double_trailing_semicolon_is_refused(self):
        with self.assertRaises(chfront.ClickHouseError):
            chfront.single_statement("SELECT 1;;")

    def test_semicolons_in_literals_identifiers_and_comments_do_not_split(self):
        sql = ("SELECT 'a;b', 'it''s;', 'x\\';y', `c;d`, \"e;f\" -- g;h\n"
               "/* i; /* nested; */ j; */ # k;\n, $$l;m$$, $t$n;o$t$")
        self.assertEqual(chfront.single_statement(sql + ";"), sql)

    def test_heredoc_cannot_hide_a_second_statement(self):
        # A naive tokenizer sees `'...'` here and misses the real `;`.
        with self.assertRaises(chfront.ClickHouseError):
            chfront.single_statement("SELECT $$'$$; DROP TABLE x; SELECT '")

    def test_unterminated_literal_is_a_syntax_error(self):
        with self.assertRaises(chfront.ClickHouseError) as caught:
            chfront.single_statement("SELECT 'oops")
        self.assertEqual(caught.exception.name, "SYNTAX_ERROR")

    def test_empty_query_is_refused(self):
        with self.assertRaises(chfront.ClickHouseError) as caught:
            chfront.single_statement("  -- nothing\n")
        self.assertEqual(caught.exception.name, "THERE_IS_NO_QUERY")


class InsertDetection(unittest.TestCase):
    def test_format_clause_splits_head_format_and_data(self):
        text = "INSERT INTO t (a, b) FORMAT RowBinary\n\x00;'\x01"
        found = chfront.find_insert_data(text)
        self.assertEqual(text[:found.head_end].strip(), "INSERT INTO t (a, b)")
        self.assertEqual(found.format, "RowBinary")
        self.assertEqual(text[found.data_start:], "\x00;'\x01")

    def test_only_one_line_break_is_skipped_before_data(self):
        # A RowBinary body may start with a byte that looks like whitespace.
        text = "INSERT INTO t FORMAT RowBinary\n\n rest"
        found = chfront.find_insert_data(text)
        self.assertEqual(text[found.data_start:], "\n rest")

    def test_values_clause_is_data(self):
        text = "INSERT INTO t VALUES (1, 'a;b')"
        found = chfront.find_insert_data(text)
        self.assertEqual(found.format, "Values")
        self.assertEqual(text[found.data_start:], " (1, 'a;b')")

    def test_insert_select_and_other_statements_have_no_data(self):
        self.assertIsNone(chfront.find_insert_data("INSERT INTO t SELECT * FROM values('a UInt8', 1)"))
        self.assertIsNone(chfront.find_insert_data("SELECT 1 FORMAT JSON"))
        self.assertIsNone(chfront.find_insert_data("INSERT INTO t FORMAT"))

    def test_output_format_is_read_from_the_statement(self):
        self.assertEqual(chfront.output_format("SELECT 1 FORMAT JSONEachRow"), "JSONEachRow")
        self.assertIsNone(chfront.output_format("SELECT format('{}', 'x')"))


class LZ4Blocks(unittest.TestCase):
    def test_blocks_decode_across_arbitrary_piece_boundaries(self):
        blocks = [b"first block " * 1000, b"", b"second" * 7, os.urandom(70000)]
        wire = b"".join(compressed_block(b) for b in blocks)
        pieces = [wire[i:i + 333] for i in range(0, len(wire), 333)]
        self.assertEqual(list(chfront.decompress_blocks(iter(pieces))), blocks)

    def test_uncompressed_method_is_accepted(self):
        wire = compressed_block(b"plain", method=chfront.NONE_METHOD)
        self.assertEqual(list(chfront.decompress_blocks(iter([wire]))), [b"plain"])

    def test_corrupted_block_fails_its_checksum(self):
        wire = bytearray(compressed_block(b"payload" * 100))
        wire[-1] ^= 0xFF
        with self.assertRaises(chfront.ClickHouseError) as caught:
            list(chfront.decompress_blocks(iter([bytes(wire)])))
        self.assertEqual(caught.exception.name, "CHECKSUM_DOESNT_MATCH")

    def test_truncated_body_is_an_error(self):
        wire = compressed_block(b"payload" * 100)
        with self.assertRaises(chfront.ClickHouseError) as caught:
            list(chfront.decompress_blocks(iter([wire[:-3]])))
        self.assertEqual(caught.exception.name, "CANNOT_DECOMPRESS")

    def test_unknown_method_is_refused(self):
        wire = compressed_block(b"zstd?", method=0x90)
        with self.assertRaises(chfront.ClickHouseError) as caught:
            list(chfront.decompress_blocks(iter([wire])))
        self.assertEqual(caught.exception.name, "UNKNOWN_COMPRESSION_METHOD")


class ParametersAndQuoting(unittest.TestCase):
    def test_parameters_settings_and_http_params_are_sorted(self):
        request = chfront.parse_request([
            ("query", "SELECT {a:String}"), ("param_a", "x'y"), ("database", "db"),
            ("max_threads", "2"), ("decompress", "1"), ("session_id", "s")])
        self.assertEqual(request.params, {"a": "x'y"})
        self.assertEqual(request.settings, {"max_threads": "2"})
        self.assertEqual((request.database, request.session_id, request.decompress),
                         ("db", "s", True))
        self.assertEqual(request.default_format, "TabSeparated")

    def test_setting_and_parameter_names_must_be_identifiers(self):
        with self.assertRaises(chfront.ClickHouseError):
            chfront.parse_request([("max_threads = 1; DROP", "2")])
        with self.assertRaises(chfront.ClickHouseError):
            chfront.parse_request([("param_a b", "2")])

    def test_multipart_fields_are_read(self):
        body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT {a:String}\r\n"
                b"--XyZ\r\nContent-Disposition: form-data; name=\"param_a\"\r\n\r\nline1\r\nline2\r\n"
                b"--XyZ--\r\n")
        fields = chfront.parse_multipart(body, "multipart/form-data; boundary=XyZ")
        self.assertEqual(fields, [("query", "SELECT {a:String}"), ("param_a", "line1\r\nline2")])

    def test_identifier_quoting_keeps_one_identifier(self):
        self.assertEqual(chfront.quote_identifier("x`; DROP TABLE t; --"),
                         "`x\\`; DROP TABLE t; --`")
        self.assertEqual(chfront.quote_identifier("a\\b"), "`a\\\\b`")
        self.assertEqual(chfront.quote_string("it's\n"), "'it\\'s\\n'")

    def test_policy_refuses_process_ending_and_file_reading_statements(self):
        for sql in ["SYSTEM SHUTDOWN", "system kill", "SELECT * FROM file('/etc/passwd')",
                    "SELECT * FROM URL ('http://x', CSV)", "INSERT INTO FUNCTION file('x') VALUES (1)",
                    "CREATE TABLE t (a UInt8) ENGINE = File(TSV)", "SELECT 1 INTO OUTFILE 'x'",
                    "SELECT * FROM `file`('/etc/passwd')", "SELECT * FROM file /* */ ('x')",
                    "ATTACH TABLE t FROM '/var/lib' (a UInt8) ENGINE = MergeTree ORDER BY a"]:
            with self.subTest(sql=sql), self.assertRaises(chfront.ClickHouseError) as caught:
                chfront.check_policy(sql, in_session=False, readonly=False)
            self.assertEqual(caught.exception.name, "ACCESS_DENIED")
        # A column that happens to be called `file` is fine.
        chfront.check_policy("SELECT file FROM t", in_session=False, readonly=False)

    def test_connection_state_needs_a_session(self):
        for sql in ["SET max_threads = 1", "USE system", "CREATE TEMPORARY TABLE t (a UInt8)"]:
            with self.subTest(sql=sql), self.assertRaises(chfront.ClickHouseError):
                chfront.check_policy(sql, in_session=False, readonly=False)
            chfront.check_policy(sql, in_session=True, readonly=False)

    def test_get_requests_are_read_only(self):
        with self.assertRaises(chfront.ClickHouseError) as caught:
            chfront.check_policy("DROP TABLE t", in_session=False, readonly=True)
        self.assertEqual(caught.exception.http_status, 403)


class ErrorFormatting(unittest.TestCase):
    def test_engine_code_and_name_are_recovered(self):
        error = chfront.error_from_engine(RuntimeError(
            "Streaming query failed: Code: 60. DB::Exception: Unknown table expression "
            "identifier 'nope'. (UNKNOWN_TABLE)"))
        self.assertEqual((error.code, error.name, error.http_status), (60, "UNKNOWN_TABLE", 404))
        self.assertEqual(error.body("26.9"), "Code: 60. DB::Exception: Unknown table expression "
                         "identifier 'nope'. (UNKNOWN_TABLE) (version 26.9 (official build))\n")

    def test_text_without_a_code_is_a_500(self):
        error = chfront.error_from_engine(RuntimeError("boom"))
        self.assertEqual((error.code, error.http_status), (1001, 500))

    def test_statuses_follow_clickhouse(self):
        self.assertEqual(chfront.http_status_for("SYNTAX_ERROR"), 400)
        self.assertEqual(chfront.http_status_for("UNKNOWN_DATABASE"), 404)
        self.assertEqual(chfront.http_status_for("MEMORY_LIMIT_EXCEEDED"), 500)


class Process(unittest.TestCase):
    def test_non_loopback_bind_is_refused(self):
        args = chfront.parse_args(["--host", "0.0.0.0", "--data-dir", "unused"])
        with self.assertRaises(SystemExit) as caught:
            chfront.serve(args)
        self.assertIn("non-loopback", str(caught.exception))

    def test_sigterm_stops_the_process_cleanly(self):
        data_dir = tempfile.mkdtemp(prefix="chfront-sigterm-")
        self.addCleanup(shutil.rmtree, data_dir, ignore_errors=True)
        process = subprocess.Popen(
            [sys.executable, chfront.__file__, "--port", "0", "--data-dir", data_dir],
            stderr=subprocess.PIPE, text=True)
        banner = process.stderr.readline()
        self.assertIn("listening on http://127.0.0.1:", banner)
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
        self.assertEqual(process.returncode, 0, rest)
        self.assertIn("stopped", rest)


class HttpFront(unittest.TestCase):
    """The real front on a free port with the real engine on a temporary directory."""

    @classmethod
    def setUpClass(cls):
        cls.data_dir = tempfile.mkdtemp(prefix="chfront-test-")
        args = chfront.parse_args(["--port", "0", "--data-dir", cls.data_dir, "--pool-size", "2"])
        cls.server = chfront.serve(args)
        cls.port = cls.server.server_address[1]
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        shutil.rmtree(cls.data_dir, ignore_errors=True)

    def request(self, method="POST", params=None, body=b"", headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        path = "/?" + urllib.parse.urlencode(params or {}) if params else "/"
        conn.request(method, path, body=body, headers=headers or {},
                     encode_chunked=not isinstance(body, (bytes, type(None))))
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response, data

    def test_ping(self):
        response, data = self.request("GET", body=None)
        self.assertEqual((response.status, data), (200, b"Ok.\n"))

    def test_query_from_url_and_body_with_parameters(self):
        response, data = self.request(params={"query": "SELECT {n:UInt8} +", "param_n": "40"},
                                      body=b"2 AS x FORMAT JSONEachRow")
        self.assertEqual(response.status, 200, data)
        self.assertEqual(data, b'{"x":42}\n')

    def test_multipart_parameters(self):
        body = (b"--b\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT {s:String}\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"param_s\"\r\n\r\nit's\r\n--b--\r\n")
        response, data = self.request(body=body,
                                      headers={"Content-Type": "multipart/form-data; boundary=b"})
        self.assertEqual((response.status, data), (200, b"it\\'s\n"))

    def test_compressed_chunked_insert_then_streamed_select(self):
        self.request(body=b"CREATE TABLE lz (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
        rows = b"".join(b"%d\trow %d\n" % (i, i) for i in range(50000))
        blocks = [compressed_block(rows[i:i + 65536]) for i in range(0, len(rows), 65536)]
        response, data = self.request(
            params={"query": "INSERT INTO lz FORMAT TabSeparated", "decompress": "1"},
            body=iter(blocks))
        self.assertEqual(response.status, 200, data)
        self.assertIn('"written_rows":"50000"', response.getheader("X-ClickHouse-Summary"))
        response, data = self.request(params={"default_format": "TabSeparated"},
                                      body=b"SELECT a, s FROM lz ORDER BY a")
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(data, rows)

    def test_header_formats_stream_with_one_header(self):
        # chDB repeats the header in every streamed chunk; 300k rows span several chunks.
        _, data = self.request(body=b"SELECT number FROM numbers(300000) FORMAT TSVWithNames")
        self.assertEqual(data, b"number\n" + b"".join(b"%d\n" % i for i in range(300000)))
        _, data = self.request(params={"default_format": "RowBinaryWithNamesAndTypes"},
                               body=b"SELECT number AS n FROM numbers(300000)")
        header = b"\x01\x01n\x06UInt64"
        self.assertEqual(data, header + b"".join(struct.pack("<Q", i) for i in range(300000)))

    def test_empty_result_still_has_its_header(self):
        _, data = self.request(body=b"SELECT number FROM numbers(0) FORMAT TSVWithNamesAndTypes")
        self.assertEqual(data, b"number\nUInt64\n")

    def test_error_after_first_rows_arrives_in_band(self):
        response, data = self.request(
            params={"default_format": "RowBinary"},
            body=b"SELECT throwIf(number = 5000000) FROM numbers(10000000)")
        tag = response.getheader("X-ClickHouse-Exception-Tag").encode()
        self.assertTrue(data.endswith(b" " + tag + b"\r\n__exception__\r\n"), data[-200:])
        self.assertIn(b"Code: 395. DB::Exception:", data[-1000:])

    def test_concurrent_long_queries_and_ping(self):
        results = {}

        def count(name):
            _, results[name] = self.request(
                body=b"SELECT count(), sum(number) FROM numbers(20000000)")

        threads = [threading.Thread(target=count, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        response, data = self.request("GET", body=None)  # answered while both run
        self.assertEqual(data, b"Ok.\n")
        for thread in threads:
            thread.join()
        self.assertEqual(results, {name: b"20000000\t199999990000000\n" for name in "ab"})

    def test_client_leaving_mid_stream_does_not_poison_the_pool(self):
        for _ in range(3):  # more than the pool holds
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            conn.request("POST", "/", body=b"SELECT number FROM numbers(50000000)")
            response = conn.getresponse()
            self.assertEqual(len(response.read(1000)), 1000)
            conn.sock.shutdown(2)
            conn.close()
        for _ in range(4):
            _, data = self.request(body=b"SELECT 42")
            self.assertEqual(data, b"42\n")

    def test_errors_carry_code_header_and_status(self):
        response, data = self.request(body=b"SELECT * FROM no_such_table")
        self.assertEqual(response.status, 404)
        self.assertEqual(response.getheader("X-ClickHouse-Exception-Code"), "60")
        self.assertTrue(data.startswith(b"Code: 60. DB::Exception: "), data)
        response, data = self.request(body=b"SELECT 1; SELECT 2")
        self.assertEqual((response.status, response.getheader("X-ClickHouse-Exception-Code")),
                         (400, "62"))

    def test_database_parameter_is_an_identifier_not_sql(self):
        response, data = self.request(params={"database": "system`; DROP TABLE x; --"},
                                      body=b"SELECT 1")
        self.assertEqual(response.status, 404, data)
        self.assertIn(b"UNKNOWN_DATABASE", data)
        response, data = self.request(params={"database": "system"},
                                      body=b"SELECT currentDatabase()")
        self.assertEqual(data, b"system\n")

    def test_sessions_keep_their_settings_to_themselves(self):
        session = {"session_id": "test-session"}
        response, data = self.request(params=session, body=b"SET max_block_size = 4242")
        self.assertEqual(response.status, 200, data)
        _, in_session = self.request(params=session, body=b"SELECT getSetting('max_block_size')")
        _, pooled = self.request(body=b"SELECT getSetting('max_block_size')")
        self.assertEqual(in_session, b"4242\n")
        self.assertNotEqual(pooled, b"4242\n")

    def test_url_settings_apply_to_one_request_only(self):
        _, data = self.request(params={"max_block_size": "777"},
                               body=b"SELECT getSetting('max_block_size')")
        self.assertEqual(data, b"777\n")
        for _ in range(3):  # every pooled connection is back to its default
            _, data = self.request(body=b"SELECT getSetting('max_block_size')")
            self.assertNotEqual(data, b"777\n")


if __name__ == "__main__":
    unittest.main()
