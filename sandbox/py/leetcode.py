# agentrl judge-side LeetCode steps. They run in processes of their own in which no candidate code ever runs:
#  - leetcode_plan: parse the (trusted) test source with ast; every top-level assert of check(candidate) becomes one
#    case = the candidate calls it makes (source text, run later in the candidate's process) plus the assert's test
#    with each call replaced by __agentrl_results[i]. Expected values stay in the test text and never reach the
#    candidate's process.
#  - leetcode_judge: exec the dataset's prompt (helpers such as ListNode) and the test's other top-level
#    statements, rebuild each case's results from plain tagged data, and evaluate the assert's test with Python's
#    own semantics (tuple != list, 1 == 1.0, ...). Nothing the candidate defined exists in this process.
RESULTS_NAME = '__agentrl_results'
SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class PlanError(ValueError):
    pass


class LiftCalls(ast.NodeTransformer):
    """Replace each outermost candidate(...) call by __agentrl_results[i], keeping its source text."""

    def __init__(self, param):
        self.param = param
        self.calls = []
        self.scopes = 0

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id == self.param:
            if self.scopes:
                raise PlanError('a candidate call inside a lambda or comprehension cannot be run on its own')
            self.calls.append(ast.unparse(node))
            lifted = ast.Subscript(ast.Name(RESULTS_NAME, ast.Load()), ast.Constant(len(self.calls) - 1), ast.Load())
            return ast.copy_location(lifted, node)
        return self.generic_visit(node)

    def generic_visit(self, node):
        scoped = isinstance(node, SCOPES)
        self.scopes += scoped
        try:
            return super().generic_visit(node)
        finally:
            self.scopes -= scoped


def plan_cases(test_src):
    tree = ast.parse(test_src)
    checks = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'check']
    if not checks:
        raise PlanError('the test source defines no check(candidate) function')
    check = checks[-1]
    if len(check.args.args) != 1:
        raise PlanError('check() must take exactly one argument (the candidate)')
    param = check.args.args[0].arg
    setup = '\n'.join(ast.unparse(n) for n in tree.body if n is not check)
    cases = []
    for stmt in check.body:
        if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            continue
        if not isinstance(stmt, ast.Assert):
            raise PlanError(f'check() line {stmt.lineno}: only top-level assert statements are supported, found {type(stmt).__name__}')
        lift = LiftCalls(param)
        test = lift.visit(stmt.test)
        if any(isinstance(n, ast.Name) and n.id == param for n in ast.walk(test)):
            raise PlanError(f'check() line {stmt.lineno}: the candidate is used other than by calling it')
        cases.append({'calls': lift.calls, 'check': ast.unparse(ast.fix_missing_locations(test))})
    if not cases:
        raise PlanError('check() has no assert')
    return setup, cases


def leetcode_plan(test_src, report):
    try:
        setup, cases = plan_cases(test_src)
        report({'plan': {'setup': setup, 'cases': cases}})
    except (PlanError, SyntaxError) as exc:
        report({'planError': str(exc)[:500]})
    return 0


def rebuild(value, env):
    tag, payload = value
    simple = {'N': lambda: None, 'b': lambda: bool(payload), 'i': lambda: int(payload), 'f': lambda: float(payload), 's': lambda: str(payload)}
    if tag in simple:
        return simple[tag]()
    if tag in ('l', 't', 'S', 'F'):
        items = [rebuild(v, env) for v in payload]
        return {'l': list, 't': tuple, 'S': set, 'F': frozenset}[tag](items)
    if tag == 'd':
        return {rebuild(k, env): rebuild(v, env) for k, v in payload}
    if tag == 'L':
        return rebuild_list([rebuild(v, env) for v in payload], env)
    if tag == 'T':
        return rebuild_tree([None if v is None else rebuild(v, env) for v in payload], env)
    raise PlanError(f'unknown value tag {tag!r}')


def helper_class(env, name):
    cls = env.get(name)
    if not isinstance(cls, type):
        raise PlanError(f'the answer is a {name} but the problem defines no {name} class')
    return cls


def rebuild_list(values, env):
    cls = helper_class(env, 'ListNode')
    head = None
    for val in reversed(values):
        node = cls(val)
        node.next = head
        head = node
    return head


def rebuild_tree(values, env):
    if not values:
        return None
    cls = helper_class(env, 'TreeNode')
    nodes = [None if v is None else cls(v) for v in values]
    for node in nodes:
        if node is not None:
            node.left = node.right = None
    children = iter(nodes[1:])
    for node in nodes:
        if node is None:
            continue
        node.left = next(children, None)
        node.right = next(children, None)
    return nodes[0]


def leetcode_judge(prompt, setup, checks, results, report):
    env = {'__name__': 'judge', '__builtins__': builtins}
    exec(compile(prompt + '\n' + setup + '\n', '<prompt>', 'exec'), env)
    for index, (check, values) in enumerate(zip(checks, results)):
        try:
            env[RESULTS_NAME] = [rebuild(v, env) for v in values]
            passed = bool(eval(compile(check, '<test>', 'eval'), env))
            report({'case': index, 'passed': passed})
        except Exception as exc:  # a comparison that raises is a failed assert
            report({'case': index, 'passed': False, 'error': ''.join(traceback.format_exception_only(type(exc), exc)).strip()[:300]})
    return 0
