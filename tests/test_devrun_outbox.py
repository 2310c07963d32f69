"""``make run`` prints the log-in codes the file SMS backend writes (config/devrun.py), so the demo
can be tried with the code log-in: only codes, only those sent after it started, numbers masked."""

from __future__ import annotations

from config.devrun import OutboxTail
from config.sms.backends import FileSmsBackend, SmsMessage


def test_devrun_prints_the_codes_sent_since_it_started(tmp_path):
    path = tmp_path / "outbox.jsonl"
    backend = FileSmsBackend({"SMS_FILE": str(path), "SMS_FILE_FSYNC": False})
    backend.send_messages(
        [SmsMessage(key="login-code:1", to="13800000001", text="您的登录验证码为111111，5分钟内有效。")]
    )
    tail = OutboxTail(path)
    assert tail.new_codes() == []  # written before devrun started
    backend.send_messages(
        [
            SmsMessage(key="a7:confirmed:sms:u3", to="13800000002", text="报名成功：金鸡湖社区 东门 123456"),
            SmsMessage(key="login-code:2", to="13800000001", text="您的登录验证码为246810，5分钟内有效。"),
        ]
    )
    with open(path, "ab") as handle:
        handle.write(b'{"key":"login-code:3","to":"1380000')  # a line still being written
    assert tail.new_codes() == [("138****0001", "246810")]
    assert tail.new_codes() == []
    with open(path, "ab") as handle:
        handle.write(b'0003","text":"Your log-in code is 135790, valid for 5 minutes."}\n')
    assert tail.new_codes() == [("138****0003", "135790")]


def test_devrun_without_an_outbox_prints_nothing(tmp_path):
    assert OutboxTail(tmp_path / "none.jsonl").new_codes() == []
