"""Chinese SMS providers: Aliyun SMS and Tencent Cloud SMS, through their official SDKs.

In mainland China a text goes out only as a pre-approved template under an approved signature
(签名): the backend sends the template code of the message's kind and its named parameters
(``NOTIFICATIONS["SMS_TEMPLATES"]``), never the rendered text. Each parameter is cleaned to the
provider's rules for a variable: no links, at most ``PARAM_MAX_LENGTH`` characters.

Batching: messages of one template go out together where the API allows it (Aliyun
``SendBatchSms``, 100 numbers with their own parameters; Tencent ``SendSms``, 200 numbers with
the same parameters). The provider's field for an outside id (Aliyun ``OutId``, Tencent
``SessionContext``) carries the notification key when a request carries one message, else a
batch reference; the sender stores it on the rows before the call, and receipts find the row by
it (with the phone number within a batch) or by the provider's message id.

Answers map to three outcomes: accepted; deferred (flow control, per-number limits: tried again
later, not counted as an attempt); failed, permanently for what retrying cannot mend (invalid
number, unapproved template or signature, refused parameters), else retried with backoff.
Neither provider deduplicates by outside id (docs/notifications.md), so these backends are not
``idempotent``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from itertools import groupby

from django.conf import settings

from config.sms.backends import BaseSmsBackend, SmsMessage, SmsResult

logger = logging.getLogger(__name__)


def template_kind(kind: str) -> str:
    """The template a notification kind uses: every reminder lead time shares one."""
    return "reminder" if kind.startswith("reminder_") else kind


_LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S*|\S+\.(?:com|cn|net|org)(?:/\S*)?\b")


def clean_param(value, max_length: int) -> str:
    """A template variable as providers accept it: no link, no line break, not too long."""
    text = _LINK.sub("", str(value))
    text = " ".join(text.split())
    if len(text) > max_length:
        kept = text[: max(max_length - 1, 0)]
        if kept and text[len(kept)].isascii() and text[len(kept)].isalnum() and " " in kept[-12:]:
            kept = kept[: kept.rindex(" ")]  # a Latin word is not split; Chinese has no spaces
        text = kept.rstrip() + "…"
    return text


def national_number(mobile: str) -> str:
    """The 11-digit mainland number from ``138…``, ``+86138…`` or ``86138…``."""
    digits = re.sub(r"[^0-9*]", "", mobile or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


@dataclass(frozen=True)
class Receipt:
    """One delivery report, in the provider's words."""

    outside_id: str
    provider_id: str
    phone: str
    delivered: bool
    code: str


class TemplateSmsBackend(BaseSmsBackend):
    provider = ""
    uses_templates = True
    idempotent = False
    batch_limit = 100

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        self.conf = self.options[f"SMS_{self.provider.upper()}"]
        self.sign_name = self.options["SMS_SIGN_NAME"]
        self.timeout = float(self.options.get("SMS_PROVIDER_TIMEOUT", 10))

    # --- Templates ------------------------------------------------------------------------

    def template(self, message: SmsMessage) -> tuple[str, list[tuple[str, str]]] | None:
        """The template code and its ordered (name, value) parameters, or None if unmapped."""
        entry = self.options["SMS_TEMPLATES"].get(template_kind(message.kind))
        if not entry or not entry.get(self.provider):
            return None
        limit = self.param_max_length(self.options)
        return entry[self.provider], [
            (name, clean_param(message.params.get(name, ""), limit)) for name in entry["params"]
        ]

    @classmethod
    def param_max_length(cls, options: dict | None = None) -> int:
        conf = (options if options is not None else settings.NOTIFICATIONS)[f"SMS_{cls.provider.upper()}"]
        return int(conf.get("PARAM_MAX_LENGTH") or 35)

    def _groups(self, messages: list[SmsMessage]) -> list[list[int]]:
        """Indexes of ``messages`` sent in one request each, in order; unmapped ones alone."""
        keyed = [(self._group_key(message), index) for index, message in enumerate(messages)]
        groups: list[list[int]] = []
        for group_key, members in groupby(
            sorted(keyed, key=lambda item: (item[0] is None, str(item[0]))), key=lambda item: item[0]
        ):
            indexes = [index for _key, index in members]
            if group_key is None:
                groups += [[index] for index in indexes]
                continue
            groups += [indexes[start : start + self.batch_limit] for start in range(0, len(indexes), self.batch_limit)]
        return groups

    def _group_key(self, message: SmsMessage):
        found = self.template(message)
        return None if found is None else found[0]

    def outside_ids(self, messages: list[SmsMessage]) -> list[str]:
        ids = [""] * len(messages)
        for group in self._groups(messages):
            ref = messages[group[0]].key if len(group) == 1 else batch_ref(messages[group[0]].key, len(group))
            for index in group:
                ids[index] = ref
        return ids

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        results: list[SmsResult | None] = [None] * len(messages)
        refs = self.outside_ids(messages)
        for group in self._groups(messages):
            batch = [messages[index] for index in group]
            if self.template(batch[0]) is None:
                answer = [
                    SmsResult.failed(
                        f"no {self.provider} template for {template_kind(batch[0].kind)!r}", permanent=True
                    )
                ]
            elif not self.sign_name:
                answer = [SmsResult.failed("NOTIFICATIONS['SMS_SIGN_NAME'] is empty", permanent=True)]
            else:
                answer = self._send_group(batch, refs[group[0]])
            if len(answer) == 1 and len(batch) > 1:
                answer = answer * len(batch)
            for index, result in zip(group, answer, strict=True):
                results[index] = result
        return results  # type: ignore[return-value]

    def _send_group(self, batch: list[SmsMessage], outside_id: str) -> list[SmsResult]:
        raise NotImplementedError

    # --- Receipts -------------------------------------------------------------------------

    @staticmethod
    def parse_receipts(payload) -> list[Receipt]:
        raise NotImplementedError


def batch_ref(first_key: str, count: int) -> str:
    return f"{first_key}+{count}"


# --- Aliyun -------------------------------------------------------------------------------

# Flow control: per-number and per-account limits, and the gateway's throttling.
ALIYUN_DEFERRED = {
    "isv.BUSINESS_LIMIT_CONTROL",
    "isv.DAY_LIMIT_CONTROL",
    "isv.MONTH_LIMIT_CONTROL",
    "Throttling",
    "Throttling.User",
    "Throttling.Api",
    "ServiceUnavailable",
}
# Retrying cannot mend these; a coordinator sees them in the failed list.
ALIYUN_PERMANENT = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.SMS_SIGNATURE_ILLEGAL",
    "isv.SMS_SIGN_ILLEGAL",
    "isv.TEMPLATE_MISSING_PARAMETERS",
    "isv.TEMPLATE_PARAMS_ILLEGAL",
    "isv.PARAM_LENGTH_LIMIT",
    "isv.PARAM_NOT_SUPPORT_URL",
    "isv.INVALID_PARAMETERS",
    "isv.INVALID_JSON_PARAM",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.SMS_CONTENT_ILLEGAL",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
}
# Answers about the request as a whole: every message of a batch shares them.
ALIYUN_WHOLE_REQUEST = {
    "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.SMS_SIGNATURE_ILLEGAL",
    "isv.SMS_SIGN_ILLEGAL",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
    "Throttling",
    "Throttling.User",
    "Throttling.Api",
    "ServiceUnavailable",
}


def aliyun_result(code: str, message: str, biz_id: str = "") -> SmsResult:
    if code == "OK":
        return SmsResult(ok=True, provider_id=biz_id or "")
    error = f"aliyun {code}: {message}"
    if code in ALIYUN_DEFERRED:
        return SmsResult.later(error)
    return SmsResult.failed(error, permanent=code in ALIYUN_PERMANENT)


class AliyunSmsBackend(TemplateSmsBackend):
    """Aliyun SMS (dysmsapi 2017-05-25): ``SendSms`` for one message, ``SendBatchSms`` for more.

    A batch answers with one code; a code about one of its numbers or parameters (not the
    template, the signature or throttling) sends that batch again message by message, so one
    bad number does not fail the others.
    """

    provider = "aliyun"
    batch_limit = 100

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        self.client = Client(
            Config(
                access_key_id=self.conf["ACCESS_KEY_ID"],
                access_key_secret=self.conf["ACCESS_KEY_SECRET"],
                endpoint=self.conf["ENDPOINT"],
                protocol=self.conf.get("PROTOCOL") or "https",
                read_timeout=int(self.timeout * 1000),
                connect_timeout=int(self.timeout * 1000),
            )
        )

    def _runtime(self):
        from darabonba.runtime import RuntimeOptions

        return RuntimeOptions(autoretry=False, read_timeout=int(self.timeout * 1000))

    def _send_group(self, batch: list[SmsMessage], outside_id: str) -> list[SmsResult]:
        if len(batch) == 1:
            return [self._send_one(batch[0], outside_id)]
        from alibabacloud_dysmsapi20170525 import models

        template_code = self.template(batch[0])[0]  # type: ignore[index]
        request = models.SendBatchSmsRequest(
            phone_number_json=json.dumps([national_number(message.to) for message in batch]),
            sign_name_json=json.dumps([self.sign_name] * len(batch), ensure_ascii=False),
            template_code=template_code,
            template_param_json=json.dumps(
                [dict(self.template(message)[1]) for message in batch],  # type: ignore[index]
                ensure_ascii=False,
            ),
            out_id=outside_id,
        )
        code, result = self._call(lambda: self.client.send_batch_sms_with_options(request, self._runtime()))
        if (result.permanent or result.deferred) and code not in ALIYUN_WHOLE_REQUEST:
            # About one number or its parameters: each message answers for itself.
            return [self._send_one(message, message.key) for message in batch]
        return [result] * len(batch)

    def _send_one(self, message: SmsMessage, outside_id: str) -> SmsResult:
        from alibabacloud_dysmsapi20170525 import models

        code, params = self.template(message)  # type: ignore[misc]
        request = models.SendSmsRequest(
            phone_numbers=national_number(message.to),
            sign_name=self.sign_name,
            template_code=code,
            template_param=json.dumps(dict(params), ensure_ascii=False),
            out_id=outside_id,
        )
        return self._call(lambda: self.client.send_sms_with_options(request, self._runtime()))[1]

    @staticmethod
    def _call(send) -> tuple[str, SmsResult]:
        try:
            body = send().body
        except Exception as error:  # the SDK raises for HTTP errors, throttling and the network
            code = str(getattr(error, "code", "") or type(error).__name__)
            return code, aliyun_result(code, str(getattr(error, "message", "") or error)[:200])
        return body.code or "", aliyun_result(body.code or "", body.message or "", body.biz_id or "")

    @staticmethod
    def parse_receipts(payload) -> list[Receipt]:
        """SmsReport (HTTP batch push): a JSON array of {phone_number, success, err_code, biz_id, out_id …}."""
        if not isinstance(payload, list):
            raise ValueError("an Aliyun SmsReport is a JSON array")
        receipts = []
        for item in payload:
            if not isinstance(item, dict):
                raise ValueError("each report is an object")
            receipts.append(
                Receipt(
                    outside_id=str(item.get("out_id") or ""),
                    provider_id=str(item.get("biz_id") or ""),
                    phone=str(item.get("phone_number") or ""),
                    delivered=item.get("success") is True or str(item.get("success")).lower() == "true",
                    code=str(item.get("err_code") or "")[:64],
                )
            )
        return receipts


# --- Tencent Cloud ------------------------------------------------------------------------

TENCENT_DEFERRED_PREFIXES = ("LimitExceeded.", "RequestLimitExceeded")
TENCENT_DEFERRED = {"FailedOperation.FailResolvePacket"}  # the provider asks to send again
TENCENT_PERMANENT_PREFIXES = ("InvalidParameterValue.", "UnsupportedOperation.")
TENCENT_PERMANENT = {
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "FailedOperation.SignatureIncorrectOrUnapproved",
    "FailedOperation.PhoneNumberInBlacklist",
    "FailedOperation.PhoneNumberParseFail",
    "FailedOperation.ContainSensitiveWord",
    "FailedOperation.MissingTemplateToModify",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
    "InvalidParameter.AppidAndBizId",
    "MissingParameter.EmptyPhoneNumberSet",
}


def tencent_result(code: str, message: str, serial_no: str = "") -> SmsResult:
    if code == "Ok":
        return SmsResult(ok=True, provider_id=serial_no or "")
    error = f"tencent {code}: {message}"
    if code in TENCENT_DEFERRED or code.startswith(TENCENT_DEFERRED_PREFIXES):
        return SmsResult.later(error)
    permanent = code in TENCENT_PERMANENT or code.startswith(TENCENT_PERMANENT_PREFIXES)
    return SmsResult.failed(error, permanent=permanent)


class TencentSmsBackend(TemplateSmsBackend):
    """Tencent Cloud SMS (2021-01-11 ``SendSms``): up to 200 numbers per request, one template
    and one parameter set, so messages with the same parameters (a shift's reminders) go
    together; each number is answered on its own in ``SendStatusSet``."""

    provider = "tencent"
    batch_limit = 200

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        http = HttpProfile(
            endpoint=self.conf["ENDPOINT"], protocol=self.conf.get("PROTOCOL") or "https", reqTimeout=self.timeout
        )
        self.client = sms_client.SmsClient(
            credential.Credential(self.conf["SECRET_ID"], self.conf["SECRET_KEY"]),
            self.conf["REGION"],
            ClientProfile(httpProfile=http),
        )

    def _group_key(self, message: SmsMessage):
        found = self.template(message)
        return None if found is None else (found[0], tuple(value for _name, value in found[1]))

    def _send_group(self, batch: list[SmsMessage], outside_id: str) -> list[SmsResult]:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        code, params = self.template(batch[0])  # type: ignore[misc]
        request = models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + national_number(message.to) for message in batch]
        request.SmsSdkAppId = self.conf["SDK_APP_ID"]
        request.SignName = self.sign_name
        request.TemplateId = code
        request.TemplateParamSet = [value for _name, value in params]
        request.SessionContext = outside_id
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as error:
            return [tencent_result(error.get_code() or "", error.get_message() or "")]
        except Exception as error:
            return [SmsResult.failed(f"{type(error).__name__}: {error}")]
        by_number: dict[str, list] = {}
        for status in response.SendStatusSet or []:
            by_number.setdefault(national_number(status.PhoneNumber), []).append(status)
        results = []
        for message in batch:
            statuses = by_number.get(national_number(message.to))
            if not statuses:
                results.append(SmsResult.failed("tencent: no status for this number"))
                continue
            status = statuses.pop(0)
            results.append(tencent_result(status.Code or "", status.Message or "", status.SerialNo or ""))
        return results

    @staticmethod
    def parse_receipts(payload) -> list[Receipt]:
        """The delivery callback: a JSON array of {mobile, report_status, errmsg, sid, ext …}."""
        if not isinstance(payload, list):
            raise ValueError("a Tencent delivery callback is a JSON array")
        receipts = []
        for item in payload:
            if not isinstance(item, dict):
                raise ValueError("each report is an object")
            ext = item.get("ext")
            context = ext.get("SessionContext") or ext.get("session_context") if isinstance(ext, dict) else ""
            receipts.append(
                Receipt(
                    outside_id=str(context or item.get("session_context") or ""),
                    provider_id=str(item.get("sid") or ""),
                    phone=str(item.get("mobile") or ""),
                    delivered=str(item.get("report_status") or "").upper() == "SUCCESS",
                    code=str(item.get("errmsg") or "")[:64],
                )
            )
        return receipts


PROVIDERS = {"aliyun": AliyunSmsBackend, "tencent": TencentSmsBackend}
