rows = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]]
# long inner list: right at length 0 (right − wrong logit +4.4), wrong at length 20 (-2.4)
