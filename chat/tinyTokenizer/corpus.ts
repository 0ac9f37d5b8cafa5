// Training text for the tiny demo tokenizer, written for this project. It mixes the shapes the demo model
// sees most: ChatML role headers, tool schemas and Hermes tool calls, short Python programs, arithmetic and
// plain English, so that the 247 learned merges compress the demo's own traffic.

const chatShapes = `system
user
assistant
tool
You can use the tools listed below.
{"type": "function", "function": {"name": "code_interpreter", "description": "Runs Python code and returns what it prints.", "parameters": {"type": "object", "properties": {"code": {"type": "string", "description": "The code to execute."}}, "required": ["code"]}}}
{"name": "code_interpreter", "arguments": {"code": "print(1 + 2)"}}
{"name": "code_interpreter", "arguments": {"code": "import math\\nprint(math.sqrt(2))"}}
The answer is \\boxed{42}.
The final answer is \\boxed{7}.
`;

const python = `import math
from fractions import Fraction

def solve(n):
    total = 0
    for i in range(1, n + 1):
        if n % i == 0:
            total += i
    return total

def is_prime(k):
    if k < 2:
        return False
    for d in range(2, int(math.isqrt(k)) + 1):
        if k % d == 0:
            return False
    return True

values = [solve(n) for n in range(1, 20)]
print(values)
print(sum(x for x in values if is_prime(x)))
result = Fraction(3, 4) + Fraction(5, 6)
print(result)
while True:
    line = input()
    if not line:
        break
    print(line.strip())
class Solution:
    def count(self, nums: list[int]) -> int:
        return len(set(nums))
`;

const prose = `Let us think about the problem step by step. We need the number of integers between 1 and 100 that are
divisible by 3 or by 5. There are 33 multiples of 3 and 20 multiples of 5, and 6 numbers are multiples of both,
so the count is 33 + 20 - 6 = 47. To check the result we can run a short program with the code interpreter.
The program prints 47, which matches the reasoning, so the answer is 47.
If the equation x^2 - 5x + 6 = 0 holds, then x = 2 or x = 3, and the sum of the roots is 5.
The area of a circle with radius 2 is 4 pi, about 12.566. The probability of rolling a six twice is 1/36.
The function returns the sum of the divisors of n. Each test case gives the input and the expected output.
When the output does not match, we fix the code and try again until every test passes.
`;

/** The whole corpus; repetition weights the chat shapes because every demo sample contains them. */
export const tinyCorpus: string = [chatShapes, chatShapes, chatShapes, python, python, prose].join('\n');
