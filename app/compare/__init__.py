"""Parts of the Compare page: grouping runs by any config field and the table of what differs
(:mod:`~app.compare.grouping`), and the downloads of every chart's data (:mod:`~app.compare.export`)."""
