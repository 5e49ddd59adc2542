#!/usr/bin/env python3
"""Prints the slowest tests of a ctest run from its JUnit report (ctest --output-junit FILE).

usage: slowest_tests.py JUNIT_XML [COUNT]   (COUNT defaults to 10)
"""
import sys
import xml.etree.ElementTree as ElementTree


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 10
    try:
        cases = ElementTree.parse(sys.argv[1]).getroot().iter("testcase")
    except (OSError, ElementTree.ParseError) as error:
        print(f"slowest_tests: {error}", file=sys.stderr)
        return 1
    timed = sorted(((float(case.get("time", 0)), case.get("name", "?")) for case in cases),
                   reverse=True)
    total = sum(seconds for seconds, _ in timed)
    print(f"The {min(count, len(timed))} slowest of {len(timed)} tests "
          f"({total:.1f} s of test time in all):")
    for seconds, name in timed[:count]:
        print(f"  {seconds:8.2f} s  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
