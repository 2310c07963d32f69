"""Local stand-ins for Aliyun SMS and Tencent Cloud SMS: real HTTP servers on 127.0.0.1.

Each speaks its provider's API as documented, as far as the official SDK uses it: the action and
version headers, the required parameters, the signature headers (present and well formed, over
the body actually sent), and the provider's success and error answers. The SDKs are pointed at
them by their endpoint setting, so nothing leaves the machine.

Like the real providers, neither deduplicates by the outside id (Aliyun ``OutId``, Tencent
``SessionContext``): a message submitted twice is two texts. ``texts`` lists every text "sent".

``codes`` makes a number answer with an error code (``{"13900000001": "isv.MOBILE_NUMBER_ILLEGAL"}``),
``template_codes`` a template; ``problems`` collects every request that broke the protocol.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACS3 = re.compile(r"^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([a-z0-9;-]+),Signature=[0-9a-f]{64}$")
TC3 = re.compile(
    r"^TC3-HMAC-SHA256 Credential=([^/]+)/\d{4}-\d{2}-\d{2}/sms/tc3_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$"
)


@dataclass
class Text:
    phone: str
    sign_name: str
    template: str
    params: object
    outside_id: str
    message_id: str


@dataclass
class FakeProvider:
    access_key: str
    texts: list[Text] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)
    template_codes: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    content_type = "application/json;charset=utf-8"

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> FakeProvider:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = fake.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", fake.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        raise NotImplementedError

    def phones(self) -> list[str]:
        return [text.phone for text in self.texts]


class FakeAliyun(FakeProvider):
    """dysmsapi 2017-05-25 over the SDK's ACS3-HMAC-SHA256 (RPC style: parameters in the query,
    SendBatchSms's lists in a form body)."""

    def handle(self, path, headers, body):
        request_id = str(uuid.uuid4())
        action = headers.get("x-acs-action", "")
        query = {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()} if body else {}
        self.requests.append({"action": action, "query": query, "form": form, "headers": headers})
        self._check_signature(headers, body)
        if headers.get("x-acs-version") != "2017-05-25" or action not in ("SendSms", "SendBatchSms"):
            self.problems.append(f"unknown action or version: {action} {headers.get('x-acs-version')}")
            return 404, {
                "Code": "InvalidAction.NotFound",
                "Message": "Specified api is not found",
                "RequestId": request_id,
            }
        if action == "SendSms":
            required = ("PhoneNumbers", "SignName", "TemplateCode")
            missing = [name for name in required if not query.get(name)]
            phones = query.get("PhoneNumbers", "").split(",")
            signs = [query.get("SignName", "")] * len(phones)
            params = [json.loads(query.get("TemplateParam") or "{}")] * len(phones)
        else:
            missing = [name for name in ("TemplateCode",) if not query.get(name)]
            missing += [name for name in ("PhoneNumberJson", "SignNameJson") if not form.get(name)]
            phones = json.loads(form.get("PhoneNumberJson") or "[]")
            signs = json.loads(form.get("SignNameJson") or "[]")
            params = json.loads(form.get("TemplateParamJson") or "[]")
            if not (len(phones) == len(signs) == len(params)) or len(phones) > 100:
                return 200, self._answer("isv.INVALID_PARAMETERS", request_id)
        if missing:
            self.problems.append(f"missing {missing}")
            return 400, {
                "Code": f"Missing{missing[0]}",
                "Message": f"{missing[0]} is mandatory",
                "RequestId": request_id,
            }
        template = query["TemplateCode"]
        code = self.template_codes.get(template) or next((self.codes[p] for p in phones if p in self.codes), "OK")
        if code != "OK":
            return 200, self._answer(code, request_id)
        biz_id = f"{len(self.requests):06d}^0"
        with self.lock:
            for phone, sign, param in zip(phones, signs, params, strict=True):
                self.texts.append(Text(phone, sign, template, param, query.get("OutId", ""), biz_id))
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}

    def _answer(self, code: str, request_id: str) -> dict:
        return {"Code": code, "Message": f"fake answer {code}", "RequestId": request_id}

    def _check_signature(self, headers: dict, body: bytes) -> None:
        match = ACS3.match(headers.get("authorization", ""))
        if not match or match.group(1) != self.access_key:
            self.problems.append(f"bad Authorization: {headers.get('authorization')!r}")
            return
        signed = match.group(2).split(";")
        for name in (
            "host",
            "x-acs-action",
            "x-acs-version",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
        ):
            if name not in signed or not headers.get(name):
                self.problems.append(f"{name} missing or not signed")
        if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            self.problems.append("x-acs-content-sha256 is not the body's hash")


class FakeTencent(FakeProvider):
    """SMS 2021-01-11 SendSms over TC3-HMAC-SHA256: a JSON body, one status per number."""

    content_type = "application/json"  # as Tencent answers (the SDK reads errors only then)

    def handle(self, path, headers, body):
        request_id = str(uuid.uuid4())
        action = headers.get("x-tc-action", "")
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {}
        self.requests.append({"action": action, "body": data, "headers": headers})
        match = TC3.match(headers.get("authorization", ""))
        if not match or match.group(1) != self.access_key:
            self.problems.append(f"bad Authorization: {headers.get('authorization')!r}")
        elif not {"content-type", "host"} <= set(match.group(2).split(";")):
            self.problems.append("content-type and host are not signed")
        if not headers.get("x-tc-timestamp") or not headers.get("x-tc-region"):
            self.problems.append("X-TC-Timestamp or X-TC-Region missing")
        if action != "SendSms" or headers.get("x-tc-version") != "2021-01-11":
            self.problems.append(f"unknown action or version: {action} {headers.get('x-tc-version')}")
            return 200, self._error("InvalidAction", "unknown action", request_id)
        missing = [name for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId") if not data.get(name)]
        if missing:
            self.problems.append(f"missing {missing}")
            return 200, self._error("MissingParameter", f"{missing[0]} is required", request_id)
        if len(data["PhoneNumberSet"]) > 200:
            return 200, self._error("LimitExceeded.PhoneNumberCountLimit", "too many numbers", request_id)
        template = data["TemplateId"]
        if template in self.template_codes:
            return 200, self._error(self.template_codes[template], "template refused", request_id)
        statuses = []
        with self.lock:
            for phone in data["PhoneNumberSet"]:
                national = phone.removeprefix("+86")
                code = self.codes.get(national, "Ok")
                serial = f"2640:{uuid.uuid4().hex[:20]}" if code == "Ok" else ""
                if code == "Ok":
                    self.texts.append(
                        Text(
                            national,
                            data.get("SignName", ""),
                            template,
                            data.get("TemplateParamSet"),
                            data.get("SessionContext", ""),
                            serial,
                        )
                    )
                statuses.append(
                    {
                        "SerialNo": serial,
                        "PhoneNumber": phone,
                        "Fee": 1 if code == "Ok" else 0,
                        "SessionContext": data.get("SessionContext", ""),
                        "Code": code,
                        "Message": "send success" if code == "Ok" else f"fake answer {code}",
                        "IsoCode": "CN",
                    }
                )
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": request_id}}

    @staticmethod
    def _error(code: str, message: str, request_id: str) -> dict:
        return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}
