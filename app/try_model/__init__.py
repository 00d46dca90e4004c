"""Parts of the Try page (``app/views/try_model.py``): a trained run's prediction on one input with its label
scores or generated text, the folded-vs-unfolded check (:mod:`~app.try_model.predict`), and the downloads of
the adapter, the PEFT export and the folded model (:mod:`~app.try_model.downloads`)."""
