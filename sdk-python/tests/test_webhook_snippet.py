"""The README's webhook verification snippet (section "Alerts"), run as written against the
signed example the server's signer is tested with (lib/alerts/fixtures/webhook-signature.json),
so the documented Python verification cannot drift from what the server sends."""
import json
import os
import re
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


def readme_verify():
    """The `verify` function of the README's Python snippet."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    match = re.search(r"```python\n(import base64, hashlib, hmac, time\n.*?)```", text, re.S)
    if match is None:
        raise AssertionError("the README has no webhook verification snippet")
    namespace = {}
    exec(match.group(1), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


class WebhookSnippetTest(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(ROOT, "lib", "alerts", "fixtures", "webhook-signature.json"), encoding="utf-8") as handle:
            self.fixture = json.load(handle)
        self.verify = readme_verify()
        self.now = int(self.fixture["headers"]["webhook-timestamp"])

    def check(self, headers=None, body=None, secret=None, now=None):
        with mock.patch("time.time", return_value=now if now is not None else self.now):
            return self.verify(
                secret or self.fixture["secret"],
                headers or self.fixture["headers"],
                (body if body is not None else self.fixture["body"]).encode("utf-8"),
            )

    def test_accepts_the_signed_example(self):
        self.assertTrue(self.check())

    def test_refuses_a_changed_body_or_another_secret(self):
        self.assertFalse(self.check(body=self.fixture["body"].replace("42", "43")))
        self.assertFalse(self.check(secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"))

    def test_refuses_a_stale_timestamp(self):
        self.assertFalse(self.check(now=self.now + 301))

    def test_accepts_when_one_of_several_signatures_matches(self):
        headers = dict(self.fixture["headers"])
        headers["webhook-signature"] = "v1,bm90IGl0 " + headers["webhook-signature"]
        self.assertTrue(self.check(headers=headers))


if __name__ == "__main__":
    unittest.main()
