"""Messages researchers and raters see from lineup studies; tests assert them."""

NOT_A_RUN = ("{path} is not a comparison run: expected per_pair.csv and outputs/ in it or in its eval/ folder "
             "(python -m legan.compare writes runs/<name>/eval/, python -m legan.evaluate writes --out)")
NO_EVALSET = ("no evaluation set for {path}: looked for {looked}; pass --evalset with the folder "
              "legan.compare or legan.evaluate --build-evalset made")
NO_RESULTS_TABLE = "{path} has no table1.csv: --results names legan.compare's results/<name>/ folder"
PER_PAIR_UNREADABLE = "{path} is not a readable CSV: {error}"
PER_PAIR_COLUMNS = "{path} lacks column(s) {missing}"
NO_MODELS = "{path} has no model folders; a lineup needs at least 2 models' outputs"
TOO_FEW_MODELS = "a lineup needs at least 2 models; got {models}"
UNKNOWN_MODELS = "no outputs for model(s) {missing} under {path}; it has {known}"
TOO_FEW_SUBJECTS = ("only {available} subject(s) have a reference input ({expression}, {lighting}) with an edited "
                    "target in {path}; asked for {wanted} (use --subjects {available} or fewer)")
MISSING_OUTPUTS = "{count} output image(s) missing, e.g. {examples}"
BAD_IMAGE = "{path} is not a readable image: {error}"
MISSING_REFERENCE = "the reference photo {path} (subject {subject}) does not exist"
NO_EXAMPLE = ("no real photo of the target {kind} '{value}' among the evaluation set's train/val faces, "
              "so the instruction page could not show one")
BAD_NUMBER = "{name} must be at least {minimum}; got {value}"
BATCH_TOO_LARGE = "{per_batch} lineups per batch is more than the {total} lineups there are"

CHOICE_NOT_IN_LINEUP = "That image is not one of this lineup's choices."
LINEUP_NOT_IN_BATCH = "That lineup is not in your batch."
LINEUP_NOT_SERVED = "That lineup has not been shown to you yet."
WINDOW_CLOSED = "Too late: the answer window for this lineup closed {seconds:.0f} s ago."
ALREADY_VOTED = "You already chose for this lineup; a choice cannot be changed."
NOT_A_LINEUP_STUDY = "{study} is not a lineup study."
NO_VOTES = "{study} has no counted votes yet."
STUDY_NOT_FINISHED = ("{study} is {status}: fill the human-preference column from a finished study "
                      "(or pass --allow-unfinished to write a provisional one)")
