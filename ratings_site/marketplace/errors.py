"""Messages researchers and workers see; tests assert them."""
from mturk.errors import BudgetExceeded, ConfigurationError, InsufficientBalance, MissingCredentialsError, MTurkError

NO_SETTINGS = "This study has no marketplace settings yet: add them (Marketplace settings) before launching."
BAD_ENVIRONMENT = "A {provider} study must run in 'sandbox' or 'production', not '{environment}'."
SITE_NOT_HTTPS = (
    "SITE_URL is {url}: {provider} only shows pages served over HTTPS. Set SITE_URL to the https:// address "
    "raters reach this site at."
)
MTURK_CREDENTIALS = "MTurk credentials are missing: {detail}"
MTURK_ERROR = "MTurk refused: {detail}"
REWARD_TOO_LOW = "The reward {reward} is below {provider}'s minimum ({minimum})."
BUDGET_EXCEEDED = "Budget exceeded: this launch costs ${needed} but the cap is ${cap} with ${spent} already committed."
BALANCE_TOO_LOW = "The MTurk account balance is ${available}, too low for this launch (${needed})."
PRODUCTION_NOT_CONFIRMED = (
    "A production launch pays real people: someone with the 'launch production' permission must confirm it "
    "(Marketplace settings > Confirm production launch) at the current cost of ${cost}."
)
PRODUCTION_CONFIRMED_OTHER_COST = (
    "The production launch was confirmed at ${confirmed} but now costs ${cost}: confirm it again."
)
PRODUCTION_CONFIRMER_LACKS_PERMISSION = "{user} confirmed the production launch but lacks the 'launch production' permission."
CONFIRM_NEEDS_PERMISSION = "Only a user with the 'launch production' permission can confirm a production launch."
CONFIRM_ONLY_PRODUCTION = "{study} runs in {environment}: only production launches need confirming."
HIT_GONE = "HIT {hit_id} no longer exists on MTurk ({environment}); it was marked missing."
PROLIFIC_TOKEN = "The Prolific API token is missing: {detail}"
PROLIFIC_ERROR = "Prolific refused: {detail}"
PROLIFIC_SANDBOX = (
    "Prolific has no sandbox: a 'sandbox' study must point PROLIFIC_BASE_URL at a test server, "
    "not at {url}."
)
PROLIFIC_HOURLY = (
    "The reward {reward} for about {minutes} min is {hourly}/hour, below Prolific's minimum of {minimum}/hour."
)
ENVIRONMENT_MISMATCH = (
    "Refusing to act on a {record} record from a {study} study: sandbox and production workers and payments never mix."
)

# Worker-facing.
MISSING_PARAMETERS = "This page must be opened from the marketplace task (its link lacks {name})."
UNKNOWN_TASK = "This task is not part of this study, or no longer offered."
BAD_SUBMIT_HOST = "The task was opened from an unexpected site; please open it from the marketplace."
WRONG_ENVIRONMENT = "This task belongs to the marketplace's {expected} site, not its {got} site."
NOT_A_MARKETPLACE_STUDY = "This study is not offered on {provider}."


def mturk_message(exc: MTurkError) -> str:
    if isinstance(exc, (MissingCredentialsError, ConfigurationError)):
        return MTURK_CREDENTIALS.format(detail=exc.message)
    if isinstance(exc, BudgetExceeded):
        return BUDGET_EXCEEDED.format(needed=exc.needed, cap=exc.cap, spent=exc.spent)
    if isinstance(exc, InsufficientBalance):
        return BALANCE_TOO_LOW.format(available=exc.available, needed=exc.needed)
    return MTURK_ERROR.format(detail=exc.message)
