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
# What each audit-log action means (AuditEntry.action); an action not listed shows as written.
AUDIT_ACTION_LABELS = {
    "tenant.create": N_("Firm created"), "tenant.update": N_("Firm configuration saved"),
    "tenant.import": N_("Firm imported from its file"), "tenant.restore": N_("Earlier version restored"),
    "message.correct": N_("Message corrected"), "staff.presence": N_("Staff presence changed"),
    "notice.post": N_("Notice posted"), "notice.withdraw": N_("Notice withdrawn"),
    "number.block": N_("Caller blocked"), "number.unblock": N_("Caller unblocked"),
    "report.test": N_("Test report sent"), "token.create": N_("API token created"),
    "token.revoke": N_("API tokens revoked"), "user.access": N_("Role or firm changed"),
    "user.create": N_("User added"), "user.disable": N_("User disabled"), "user.enable": N_("User enabled"),
    "user.invite": N_("User invited"), "user.invite.accept": N_("Invitation accepted"),
    "user.owner": N_("Firm owner changed"), "user.password": N_("Password set"),
    "user.remove": N_("User removed from the firm"), "user.password_link.reset": N_("Password link sent"),
    "user.password_link.welcome": N_("Welcome link sent"),
    "change_request.propose": N_("Change requested"), "change_request.approve": N_("Change request approved"),
    "change_request.decline": N_("Change request declined"),
    "change_request.withdraw": N_("Change request withdrawn"),
    "change_request.mail_failed": N_("Change request: mail not sent"),
}
