// `circuit-inspector` command line: the same core as the extension, without VS Code.
const USAGE = `circuit-inspector <command>

Commands:
  analyze FILE   analyse a Python file
  bench          print the performance table
`;

process.stdout.write(USAGE);
