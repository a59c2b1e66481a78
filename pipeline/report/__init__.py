"""The report stage's building blocks: collect stored records, ROC/working points, plots, HTML, exports.

Every module here is pure compute or thin file I/O over *stored* artifacts: building a report never
reruns a stage. Heavy libraries (matplotlib, TensorFlow, uproot) are imported inside functions.
"""
