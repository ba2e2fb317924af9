import re, sys, os
# rough: a line that declares func/init/deinit/subscript/ computed var with "{" ; count until brace depth returns
decl = re.compile(r'^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|internal|fileprivate|static|final|override|mutating|nonisolated|convenience|required|@inlinable|@usableFromInline|@discardableResult|@inline\(__always\))\s+)*(func\s+[^\s(<]+|init[?!]?|deinit|subscript)\b')
def scan(path):
    lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
    out = []
    i = 0
    while i < len(lines):
        m = decl.match(lines[i])
        if m:
            # find opening brace
            depth = 0; started = False; j = i
            while j < len(lines):
                s = re.sub(r'"(?:\\.|[^"\\])*"', '""', lines[j])
                s = s.split('//')[0]
                for ch in s:
                    if ch == '{': depth += 1; started = True
                    elif ch == '}': depth -= 1
                if started and depth <= 0: break
                if not started and j > i + 8: break
                j += 1
            if started:
                n = j - i + 1
                if n > 60: out.append((n, path, i + 1, m.group(1)))
            i += 1
        else:
            i += 1
    return out
res = []
for d in sys.argv[1:]:
    for root, _, files in os.walk(d):
        for f in files:
            if f.endswith('.swift'): res += scan(os.path.join(root, f))
for r in sorted(res, reverse=True): print(*r)
print(len(res), "functions over 60 lines")
