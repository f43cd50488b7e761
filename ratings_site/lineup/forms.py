from django import forms

from ratings_site.studies.models import Study


class LineupImportForm(forms.Form):
    folder = forms.CharField(max_length=1000, help_text="runs/<name>/ of legan.compare (with eval/ and evalset/), "
                                                         "or an evaluation folder with per_pair.csv and outputs/.")
    name = forms.CharField(max_length=200)
    subjects = forms.IntegerField(min_value=1, initial=30, help_text="One lineup per held-out subject (paper: 30).")
    models = forms.CharField(required=False, help_text="Comma-separated model folders; empty means all of them.")
    evalset = forms.CharField(required=False, max_length=1000, help_text="Only when it is not beside the run.")
    results = forms.CharField(required=False, max_length=1000,
                              help_text="legan.compare's results/<name>/: its table gets the human-preference column too.")
    seed = forms.IntegerField(initial=0)
    raters_per_batch = forms.IntegerField(min_value=1, initial=17, help_text="Paper: 17 raters.")
    lineups_per_batch = forms.IntegerField(min_value=1, required=False, help_text="Empty: all lineups in one batch.")
    provider = forms.ChoiceField(choices=Study.Provider.choices, initial=Study.Provider.SELF_HOSTED)
    environment = forms.ChoiceField(choices=[("", "default (live / sandbox)"), ("sandbox", "sandbox"),
                                             ("production", "production")], required=False)
    viewing_seconds = forms.IntegerField(min_value=1, initial=60)
