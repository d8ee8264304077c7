"""Open me with `npm run demo`: strings and lists for the quote and bracket circuits.

Hover a quote to see the quote circuit's key nodes; put the cursor inside a string or a list and
run "Circuit Inspector: Show circuit at cursor" (Ctrl+Alt+C) to open the circuit graph.
"""

greeting = "hello world"
name = 'circuit'
matrix = [[1, 2, 3], [4, 5, 6]]
flat = [7, 8, 9]


def report(items):
    print("items: " + str(len(items)))
    log('done')
    return {"names": ['a', 'b'], "values": [[1, 2], [3]]}
