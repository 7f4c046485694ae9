"""An immediate SMS carries every required and read-back field of the message's call type; what is
cut to keep it within three parts is the free text, never a field."""

from app.delivery.channels import sms_segments
from app.messages import forms, service
from app.reports import render
from app.tenants import store
from app.tenants.models import Tenant

FIELDS = {"caller_company": "東和建材", "caller_name": "佐藤 一郎", "callback_number": "+819012345678",
          "for_staff": "ito", "site_name": "川口三丁目現場"}


def urgent(body: str):
    firm = Tenant.get(Tenant.slug == "daiwa-kensetsu")
    form = forms.form_of(firm, "site-emergency")
    return service.record(firm, forms.Clean(form, "message", True, {**FIELDS, "body": body},
                                            ["caller_name", "callback_number", "site_name"], {"site_name": "現場名"}),
                          None)


def test_an_urgent_sms_carries_the_site_name_its_call_type_requires_and_reads_back(demo_firms, settings):
    sms = render.notification(settings, urgent("足場が倒れました。けが人はいません。"), "sms").sms
    assert sms.startswith("【至急】大和建設株式会社:")
    assert "現場名:川口三丁目現場" in sms
    assert "佐藤 一郎" in sms and "090-1234-5678" in sms and "足場が倒れました。けが人はいません。" in sms
    assert "ito" not in sms.split("http")[0]  # not a required field here; when shown, by name


def test_a_long_message_shortens_its_text_not_its_fields_to_stay_within_three_sms(demo_firms, settings):
    body = "足場が倒れて隣家の塀に当たりました。" * 20
    message = urgent(body)
    sms = render.notification(settings, message, "sms").sms
    assert sms_segments(sms) <= 3
    assert "現場名:川口三丁目現場" in sms and "佐藤 一郎" in sms and "090-1234-5678" in sms
    assert "…" in sms and body not in sms and sms.endswith(f"/portal/messages/{message.id}")

