from destination_loyalty_batch.reply import parse_reply

XML_OK = """<?xml version="1.0" encoding="UTF-8"?>
<response status="success"><batch status="imported"><customers><new>2</new><updated>1</updated><ignored>0</ignored></customers>
<generated count="1"><customer line="3"><code>1234567890123456</code></customer></generated>
<errors count="1"><error line="4">custom_date 'x' is not in YYYY-MM-DD format</error></errors></batch></response>"""

SEED_XML = """<response status="success">
<batch status="imported">
<customers>
<new>2<new>
<updated>1<updated>
<customers>
</batch>
</response>"""


def test_xml_success_with_generated_codes_and_line_errors():
    r = parse_reply(XML_OK)
    assert r.ok and r.batch_status == "imported"
    assert (r.new, r.updated, r.ignored) == (2, 1, 0)
    assert r.generated == [{"code": "1234567890123456", "line": 3}]
    assert r.line_errors == [(4, "custom_date 'x' is not in YYYY-MM-DD format")]
    assert r.accounted() == 4


def test_xml_seed_sample_is_read_despite_missing_slashes():
    r = parse_reply(SEED_XML)
    assert r.ok and (r.new, r.updated, r.ignored) == (2, 1, None) and r.batch_status == "imported"


def test_xml_error():
    r = parse_reply('<response status="error">\n<error>Invalid user_id or user_api_key</error>\n</response>')
    assert r.status == "error" and r.error == "Invalid user_id or user_api_key"
    r = parse_reply('<response status="error"><error>broken<error></response>')
    assert r.status == "error" and r.error == "broken"


def test_json_success_and_error_and_jsonp():
    r = parse_reply('{"status":"success","batch":{"status":"imported","customers":{"new":"3","updated":0,"ignored":1},'
                    '"generated":[{"line":1,"code":"9"}],"errors":[{"line":2,"message":"bad"}]}}')
    assert r.ok and (r.new, r.updated, r.ignored) == (3, 0, 1)
    assert r.generated == [{"line": 1, "code": "9"}] and r.line_errors == [(2, "bad")]
    e = parse_reply('{"status": "error", "error": "Campaign \'1\' not found"}')
    assert e.status == "error" and e.error == "Campaign '1' not found"
    p = parse_reply('cb({"status":"success","batch":{"status":"imported","customers":{"new":1,"updated":0}}});')
    assert p.ok and p.new == 1


def test_json_flat_counts_shape_is_accepted():
    r = parse_reply('{"status":"success","batch":{"status":"imported","new":1,"updated":2}}')
    assert (r.new, r.updated) == (1, 2)


def test_unreadable_answers_keep_the_raw_text():
    cut = XML_OK[: len(XML_OK) // 2]
    for text in [cut, SEED_XML[:40], "", "<html>oops</html>", '{"status": "maybe"}', '{"status":"succ', "plain text"]:
        r = parse_reply(text)
        assert r.status == "unreadable" and r.raw == text and r.error
