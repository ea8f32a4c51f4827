"""The review procedure (QĐ 24/2021 Art. 4) as data and as recorded steps: who is reviewed
(last year's list, applicants), the steps after the survey (meeting, posting, complaints,
opinion of the level above, recognition) and the checks that block approval."""
