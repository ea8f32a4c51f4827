"""The chat's vocabulary: messages in and out, button payloads, typed commands and references.

It sits below the forms (core/surveys) and the survey engine (core/conversation), which speak it.
"""
