"""Names people see for the keys of the tenant format (translated where shown)."""

from ..i18n import N_

CATEGORY_LABELS = {
    "message": N_("Message"), "callback": N_("Callback request"), "inquiry": N_("Inquiry"),
    "complaint": N_("Complaint"), "appointment": N_("Appointment"), "sales": N_("Sales call"),
    "wrong_number": N_("Wrong number"), "prank": N_("Prank call"), "silent": N_("Silent call"),
    "hangup": N_("Hung up"), "other": N_("Other"),
}
FIELD_LABELS = {
    "caller_company": N_("Company"), "caller_name": N_("Caller name"), "caller_name_kana": N_("Name reading"),
    "callback_number": N_("Callback number"), "callback_time": N_("Preferred callback time"),
    "for_staff": N_("For"), "body": N_("Message body"),
}
WEEKDAY_LABELS = {
    "mon": N_("Mon"), "tue": N_("Tue"), "wed": N_("Wed"), "thu": N_("Thu"), "fri": N_("Fri"),
    "sat": N_("Sat"), "sun": N_("Sun"),
}
AFTER_HOURS_LABELS = {
    "answer": N_("Operators answer anyway"), "voicemail": N_("Voicemail (becomes a message)"),
    "announce": N_("Play the after-hours message and hang up"),
}
NUMBER_KIND_LABELS = {"forwarded": N_("Forwarded line"), "dedicated": N_("Dedicated number")}
CHANNEL_LABELS = {"email": N_("E-mail"), "sms": N_("SMS"), "fax": N_("Fax")}
ROLE_LABELS = {"admin": N_("Account manager"), "supervisor": N_("Supervisor"), "operator": N_("Operator"),
               "client": N_("Client")}
CALL_STATUS_LABELS = {
    "queued": N_("Waiting"), "answered": N_("Answered"), "completed": N_("Completed"),
    "abandoned": N_("Caller hung up while waiting"), "voicemail": N_("Voicemail after hours"),
    "announced": N_("After-hours announcement"), "blocked": N_("Blocked"),
}
PRESENCE_LABELS = {"in": N_("In"), "out": N_("Out"), "away": N_("Away"), "off": N_("Off today")}
# How a version of a firm's configuration was saved (TenantVersion.via).
VIA_LABELS = {
    "file": N_("File import"), "browser": N_("Browser"), "api": N_("API"), "restore": N_("Restore"),
    "wizard": N_("New-firm wizard"), "request": N_("Change request"), "baseline": N_("As it was before versions"),
}

# How a 取次 (a call put through to a staff member's mobile) went unanswered.
TRANSFER_OUTCOME_LABELS = {"no-answer": N_("no answer"), "busy": N_("busy"), "failed": N_("the call failed"),
                           "canceled": N_("cancelled"), "timeout": N_("no answer")}
