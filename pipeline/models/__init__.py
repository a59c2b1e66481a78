"""Model specs (:mod:`.spec`), spec -> QKeras model (:mod:`.build`), save/load (:mod:`.io`), training."""
