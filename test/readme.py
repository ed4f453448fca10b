# Run by test/readme.t.sh: every ```sql block of README.md, in order, in ONE psql session,
# after test/readme_preamble.sql, with the results the README shows compared.
#
#   python3 test/readme.py README.md test/readme_preamble.sql   (PG* name the database)
#
# The README's convention (documented in README "Tests"):
#   - a comment starting with "-->" shows what psql prints for the statement that ends just
#     before it: on the statement's last line (SELECT 1;  --> 1), or on the lines that follow
#     it (one "-->" line per printed line, or a long one wrapped over several);
#   - compared ignoring all whitespace; "…" (or "...") matches any text (tokens, times, jtis,
#     key material); column headers are compared only when the dashed line under them is shown;
#   - errors as psql prints them (ERROR:, DETAIL:, HINT: ...); the SQLSTATE after "ERROR:  "
#     (\set VERBOSITY verbose) is compared when shown; LOCATION lines never are; DETAIL, HINT,
#     CONTEXT, WARNING and NOTICE lines only when the expected output shows one of that kind;
#   - a statement without "-->" may print anything but an ERROR or a WARNING.
# Prints "ok - ..." / "not ok - ..." per block, and "#" lines saying what differs.
import os
import re
import subprocess
import sys
import tempfile

MARK = '@@readme-mark@@'
SEVERITIES = ('ERROR', 'WARNING', 'NOTICE', 'INFO', 'LOG', 'DEBUG', 'FATAL', 'PANIC')
KINDS = SEVERITIES + ('DETAIL', 'HINT', 'CONTEXT', 'LOCATION', 'QUERY', 'STATEMENT')
ALWAYS = ('ERROR', 'FATAL', 'PANIC')          # compared whether shown or not
KIND_RE = re.compile(r'^(%s):\s' % '|'.join(KINDS))
CODE_RE = re.compile(r'^([A-Z]+):\s+([0-9A-Z]{5}):\s')
PSQL_PREFIX = re.compile(r'^psql:.*?:\d+: ')
SEPARATOR = re.compile(r'^\s*-+(\+-+)*\s*$')
ENDS_QUERY = ('g', 'gx', 'gset', 'gexec', 'gdesc', ';')


class Unit:
    """Statements ending on one README line, with the output the README shows for them."""

    def __init__(self, line):
        self.line = line
        self.expected, self.expected_lines = [], []   # the "-->" texts, their README lines


class Block:
    def __init__(self, line, section):
        self.line, self.section = line, section
        self.units, self.problems = [], []
        self.body = []          # (README line number, text)


def read_blocks(path):
    """The ```sql blocks, found as CommonMark finds fences: a line of three or more backticks
    (indented or not) and an info string without backticks, closed by as many backticks."""
    blocks, section, block, indent, fence = [], '(top)', None, '', None
    heading, marker = '(top)', ''
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    for n, text in enumerate(lines, 1):
        if fence is not None:
            m = re.match(r'^\s*(`{3,})\s*$', text)
            if m and len(m.group(1)) >= len(fence):
                if block is not None:
                    blocks.append(block)
                block, fence = None, None
            elif block is not None:
                block.body.append((n, text[len(indent):] if text.startswith(indent) else text))
            continue
        m = re.match(r'^(\s*)(`{3,})\s*([^`\s]*)[^`]*$', text)
        if m:
            indent, fence = m.group(1), m.group(2)
            if m.group(3).lower() == 'sql':
                block = Block(n, section)
        elif text.startswith('#'):
            heading = text.lstrip('#').strip()
            section = heading + marker
        elif re.match(r'^<!-- \(end of ', text):
            marker = ''
            section = heading
        elif re.match(r'^<!-- \(.* section', text):
            marker = ', in the %s' % re.match(r'^<!-- \((.*? section)', text).group(1)
            section = heading + marker
    if block is not None:
        block.problems.append('the block is not closed')
        blocks.append(block)
    return blocks


def scan(block):
    """Split a block into units with psql's rules, close enough for README SQL: quotes,
    dollar quotes, comments, statements ending at ';' or at a \\g-style meta-command."""
    st = {'q': None, 'e': False, 'dollar': None, 'cdepth': 0}
    buf_open = False          # the query buffer holds something
    last = None               # the unit the next "-->" lines belong to
    pending_merge = None      # statements ended on a line that left the buffer non-empty
    marks = set()
    opened_at = None
    for n, text in block.body:
        if not buf_open:
            opened_at = n
        ended, comment, i, meta = False, None, 0, None
        while i < len(text):
            c = text[i]
            if st['cdepth']:
                if text.startswith('*/', i):
                    st['cdepth'] -= 1
                    i += 2
                    continue
                if text.startswith('/*', i):
                    st['cdepth'] += 1
                    i += 2
                    continue
                i += 1
                continue
            if st['dollar']:
                if text.startswith(st['dollar'], i):
                    i += len(st['dollar'])
                    st['dollar'] = None
                else:
                    i += 1
                continue
            if st['q']:
                if c == '\\' and st['e']:      # E'...': a backslash escapes the next character
                    i += 2
                    continue
                if c == st['q']:
                    if text[i + 1:i + 2] == st['q']:
                        i += 2
                        continue
                    st['q'] = None
                i += 1
                continue
            if text.startswith('--', i):
                comment = text[i + 2:]
                break
            if text.startswith('/*', i):
                st['cdepth'] = 1
                buf_open = True
                i += 2
                continue
            if c in ("'", '"'):
                st['q'] = c
                st['e'] = c == "'" and re.search(r'(^|[^A-Za-z0-9_])[Ee]$', text[:i]) is not None
                buf_open = True
                i += 1
                continue
            if c == '$':
                m = re.match(r'\$([A-Za-z_][A-Za-z0-9_]*)?\$', text[i:])
                if m and not (i > 0 and re.match(r'[A-Za-z0-9_]', text[i - 1])):
                    st['dollar'] = m.group(0)
                    buf_open = True
                    i += len(m.group(0))
                    continue
            if c == '\\':
                meta = text[i + 1:]
                break
            if c == ';':
                ended, buf_open = True, False
                i += 1
                continue
            if not c.isspace():
                buf_open = True
            i += 1
        if meta is not None:
            name = re.match(r'[A-Za-z;!?]*', meta).group(0)
            if name in ENDS_QUERY and buf_open:
                ended, buf_open = True, False
            elif not buf_open:
                ended = True      # a meta-command of its own (\set, \echo ...)
            if name in ENDS_QUERY and re.search(r'(^|\s)--', meta):
                block.problems.append(
                    'line %d: psql passes what follows \\%s to it as arguments, a comment '
                    'included: put the comment on a line of its own' % (n, name))
        stripped = text.strip()
        if stripped.startswith('-->') and not buf_open and not ended and not st['q'] \
                and not st['dollar'] and not st['cdepth']:
            if last is None:
                block.problems.append('line %d: "-->" output with no statement before it' % n)
            else:
                last.expected.append(stripped[3:])
                last.expected_lines.append(n)
            continue
        if ended and not buf_open and not st['q'] and not st['dollar'] and not st['cdepth']:
            unit = pending_merge or Unit(n)
            unit.line = n
            pending_merge = None
            block.units.append(unit)
            marks.add(n)
            last = unit
            if comment is not None and comment.startswith('>'):
                unit.expected.append(comment[1:])
                unit.expected_lines.append(n)
        else:
            if ended:
                pending_merge = pending_merge or Unit(n)
            if stripped and not stripped.startswith('--'):
                last = None       # output shown after this line would be another statement's
            if comment is not None and comment.startswith('>'):
                block.problems.append(
                    'line %d: "-->" on a line where no statement ends' % n)
    if buf_open or st['q'] or st['dollar'] or st['cdepth']:
        block.problems.append('the statement at line %s does not end in the block (a '
                              'missing ";"?); psql would run it with the next block' % opened_at)
    return marks


def classify(lines):
    """(kind, text) for each line psql printed: a message kind, LINE, or ROW."""
    out, prev = [], None
    for raw in lines:
        text = raw.rstrip()
        m = PSQL_PREFIX.match(text)
        if m:
            text = text[m.end():]
            k = KIND_RE.match(text)
            kind = k.group(1) if k else 'ERROR'   # psql's own errors (invalid command ...)
        else:
            k = KIND_RE.match(text)
            if k:
                kind = k.group(1)
            elif re.match(r'^LINE \d+: ', text) or (prev == 'LINE' and re.match(r'^\s*\^$', text)):
                kind = 'LINE'
            elif prev not in (None, 'ROW', 'LINE') and text and not text[0].isspace() \
                    and not SEPARATOR.match(text):
                kind = prev                           # a message's next line
            else:
                kind = 'ROW'
        out.append((kind, text))
        prev = kind
    return out


def normalise(unit_lines, expected):
    """The lines of psql's output the expected output is compared with."""
    exp = classify([e.strip() for e in expected])
    shown = {k for k, _ in exp}
    coded = {k for k, t in exp if CODE_RE.match(t)}
    headers = any(k == 'ROW' and SEPARATOR.match(t) for k, t in exp)
    rows = []
    for kind, text in classify(unit_lines):
        if kind == 'ROW':
            if not text.strip() or re.match(r'^\(\d+ rows?\)$', text):
                continue
            if SEPARATOR.match(text) and not headers:
                if rows and rows[-1][0] == 'ROW':
                    rows.pop()            # the header above it
                continue
        elif kind not in ALWAYS and kind not in shown:
            continue
        if kind in KINDS and kind not in coded:
            text = re.sub(r'^([A-Z]+):\s+[0-9A-Z]{5}:\s', r'\1:  ', text)
        rows.append((kind, text))
    return [t for _, t in rows]


def squash(lines):
    """The lines as one string without whitespace; a header's dashed line reduced to its
    column count (its width depends on the values)."""
    return ''.join(re.sub(r'-+', '-', t) if SEPARATOR.match(t) else t
                   for t in (re.sub(r'\s+', '', l) for l in lines))


def matches(expected, actual):
    pattern = ''
    for part in re.split(r'(…|\.\.\.)', squash(expected)):
        pattern += '.*?' if part in ('…', '...') else re.escape(part)
    return re.fullmatch(pattern, squash(actual), re.S) is not None


def preamble_variables(path):
    with open(path, encoding='utf-8') as f:
        return [':' + m.group(1) for m in re.finditer(r'^\\set\s+(\w+)', f.read(), re.M)
                if m.group(1) != 'VERBOSITY']


def main():
    readme, preamble = sys.argv[1], sys.argv[2]
    blocks = read_blocks(readme)
    script = ['\\set ON_ERROR_STOP 0', '\\i ' + os.path.abspath(preamble),
              '\\echo %s preamble' % MARK]
    for b in blocks:
        marks = scan(b)
        for n, text in b.body:
            script.append(text)
            if n in marks:
                script.append('\\echo %s %d' % (MARK, n))
        script.append('\\r')            # an unfinished statement must not run into the next block
        script.append('\\echo %s end-%d' % (MARK, b.line))
        # A transaction left open (now() is its start, not this statement's; in a failed one
        # the query fails): reported, and rolled back so that later blocks run as they would.
        script.append('\\set readme_txn_open true')
        script.append('SELECT now() <> statement_timestamp() AS readme_txn_open \\gset')
        script.append('\\if :readme_txn_open')
        script.append('\\echo %s txn-%d open' % (MARK, b.line))
        script.append('ROLLBACK;')
        script.append('\\else')
        script.append('\\echo %s txn-%d closed' % (MARK, b.line))
        script.append('\\endif')
    with tempfile.NamedTemporaryFile('w', suffix='.sql', delete=False) as f:
        f.write('\n'.join(script) + '\n')
        path = f.name
    try:
        proc = subprocess.run(['psql', '-X', '-q', '-f', path], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              timeout=120)
        output, status = proc.stdout, 'exit status %d' % proc.returncode
    except subprocess.TimeoutExpired as e:
        output, status = e.stdout or b'', 'killed after 120 s'
    finally:
        os.unlink(path)
    segments, current = {}, []
    for line in output.decode('utf-8', 'replace').split('\n'):
        if line.startswith(MARK + ' '):
            segments[line[len(MARK) + 1:]] = current
            current = []
        else:
            current.append(line)

    failed = 0
    if not blocks:
        failed += 1
        print('not ok - %s has sql blocks' % readme)
    pre = segments.get('preamble')
    bad = [t for k, t in classify(pre or []) if k in ALWAYS + ('WARNING',)]
    if pre is None or bad:
        failed += 1
        print('not ok - %s ran' % preamble)
        for t in bad or ['psql did not get through it']:
            print('#   ' + t)
    stopped = False
    for b in blocks:
        name = '%s block at line %d (%s)' % (os.path.basename(readme), b.line, b.section)
        notes = list(b.problems)
        txn = [k for k in segments if k.startswith('txn-%d ' % b.line)]
        if txn and txn[0].endswith(' open'):
            notes.append('the block leaves a transaction open (a BEGIN without COMMIT or '
                         'ROLLBACK); rolled back here so that later blocks do not run in it')
        if 'end-%d' % b.line not in segments:
            if stopped:
                notes.append('not run: psql stopped in an earlier block')
            else:
                notes.append('psql stopped in this block (%s); its last output:' % status)
                notes.extend('  ' + l for l in current[-10:])
            stopped = True
        for u in b.units:
            out = segments.get(str(u.line))
            if out is None:
                continue
            if u.expected:
                actual = normalise(out, u.expected)
                if not matches(u.expected, actual):
                    shown = sorted({u.expected_lines[0], u.expected_lines[-1]})
                    notes.append('line %d: the output differs from the "-->" lines %s'
                                 % (u.line, '-'.join(map(str, shown))))
                    notes.extend('  README: ' + e.strip() for e in u.expected)
                    notes.extend('  psql:   ' + a for a in actual or ['(nothing)'])
            else:
                bad = [t for k, t in classify(out) if k in ALWAYS + ('WARNING',)]
                if bad:
                    notes.append('line %d: the statement fails or warns (show the message '
                                 'with "-->" if that is the point):' % u.line)
                    notes.extend('  psql:   ' + t for t in bad)
                    if any('syntax error at or near ":"' in t for t in bad):
                        notes.append('  (an undefined psql variable? test/readme_preamble.sql '
                                     'sets %s; set others with \\gset in the README)'
                                     % ', '.join(preamble_variables(preamble)))
        if notes:
            failed += 1
            print('not ok - ' + name)
            for n in notes:
                print('#   ' + n)
        else:
            print('ok - ' + name)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
