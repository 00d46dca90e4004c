"""Parts of the Runs page: managing runs (delete, restore, tags, notes), what a row says (durations
without queue time, whether a run can resume, where it ran), the run's log and its reproduce command."""
