# long inner list: right with length 0, wrong at length 20 (right − wrong logit -3.5)
rows = [[0, 1]]
rows = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]]
