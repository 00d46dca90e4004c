"""Parts of the Compare page that live apart from app/views/compare.py: which runs it shows
(:mod:`~app.compare.selection`), grouping by any config field and the table of what differs
(:mod:`~app.compare.grouping`), the downloads of every chart's data (:mod:`~app.compare.export`), and the
intervals and paired differences of the results (:mod:`~app.compare.results`)."""
