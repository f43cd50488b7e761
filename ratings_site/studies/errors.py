"""Messages raters and researchers see; tests assert them."""


from ratings_site.core.errors import ServiceError  # noqa: F401  (its old home; import it from core)

SCORE_NOT_INTEGER = "The rating must be a whole number from 0 to 10, in ASCII digits."
SCORE_OUT_OF_RANGE = "The rating must be between 0 and 10; got {score}."
ITEM_NOT_INTEGER = "The item must be an image id from your batch, a whole number in ASCII digits."
ITEM_OUT_OF_RANGE = "The item id must be between 1 and {maximum}."
ITEM_NOT_IN_BATCH = "That image is not in your batch."
ITEM_NOT_SERVED = "That image has not been shown to you yet."
WINDOW_CLOSED = "Too late: the answer window for this image closed {seconds:.0f} s ago."
ALREADY_RATED = "You already rated this image ({score}); a rating cannot be changed."
UNKNOWN_ASSIGNMENT = "This rating link is not valid."
ASSIGNMENT_FINISHED = "This batch is already submitted; thank you."
ASSIGNMENT_ABANDONED = "This batch slot expired after {minutes} idle minutes and went to someone else."
ASSIGNMENT_CLOSED = "This batch is closed ({status})."
STUDY_NOT_RUNNING = "This study is not accepting raters right now ({status})."
NO_BATCH_AVAILABLE = "Every batch already has its raters (or you rated them all). Thank you for your interest."
INVITATION_UNKNOWN = "This invitation link is not valid."
INVITATION_USED_UP = "This invitation link has already been used by its {cap} rater(s)."
INVITATION_REVOKED = "This invitation link was withdrawn by the researcher."
NOT_FINISHED = "{missing} image(s) still need an answer before this batch can be submitted."
LAUNCH_WRONG_STATE = "Only a draft or paused study can be launched; this one is {status}."
PAUSE_WRONG_STATE = "Only a running study can be paused; this one is {status}."
SAMPLE_EMPTY = "The sampling rule matches no images."
SAMPLE_SHORT_TOTAL = "The sampling rule matches {available} images but the study needs {needed}: {short} short."
SAMPLE_SHORT_STRATA = "Some strata cannot fill their quota of {quota}: {details}."
SAMPLE_TOO_SMALL_FOR_BATCHES = "{size} images cannot fill {batches} batches: need at least one image per batch."
ADAPTIVE_NOTHING_LEFT = (
    "Every image in this study already has enough ratings, or all that still need one were rated by you. Thank you."
)
ADAPTIVE_BUSY = "Many raters are asking at once; please reload the page."
