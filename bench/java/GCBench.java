// GCBench for the JVM, the twin of bench/lox/gcbench.lox: a long-lived chain of depth-12 trees
// holding LIVE_NODES nodes, then a churn of short-lived trees (depths 4..10, alternately built
// top-down and bottom-up) totalling CHURN_NODES nodes. Same shapes, same order of work, so the
// collectors see the same object graph; only the size of a node differs (the JVM's is far
// smaller), which the harness accounts for when it sizes LIVE_NODES from a live heap in bytes.
//
// Usage: java GCBench LIVE_NODES CHURN_NODES

public final class GCBench {
    static final class Node {
        Node left, right;

        Node(Node left, Node right) {
            this.left = left;
            this.right = right;
        }
    }

    static final class Link {
        final Node tree;
        final Link next;

        Link(Node tree, Link next) {
            this.tree = tree;
            this.next = next;
        }
    }

    static Node makeTree(int depth) {
        if (depth <= 0) return new Node(null, null);
        return new Node(makeTree(depth - 1), makeTree(depth - 1));
    }

    static void populate(int depth, Node node) {
        if (depth <= 0) return;
        node.left = new Node(null, null);
        node.right = new Node(null, null);
        populate(depth - 1, node.left);
        populate(depth - 1, node.right);
    }

    static long countNodes(Node node) {
        if (node == null) return 0;
        return 1 + countNodes(node.left) + countNodes(node.right);
    }

    static long treeSize(int depth) {
        return (1L << (depth + 1)) - 1;
    }

    // Keeps the JIT from discarding the temporary trees.
    static volatile Node sink;

    public static void main(String[] args) {
        long liveNodes = Long.parseLong(args[0]);
        long churnNodes = Long.parseLong(args[1]);
        final int longDepth = 12;

        long start = System.nanoTime();
        Link kept = null;
        long keptNodes = 0;
        long perTree = treeSize(longDepth);
        while (keptNodes < liveNodes) {
            kept = new Link(makeTree(longDepth), kept);
            keptNodes += perTree + 1;
        }
        long built = System.nanoTime();

        long made = 0;
        int depth = 4;
        boolean topDown = true;
        while (made < churnNodes) {
            Node t;
            if (topDown) {
                t = new Node(null, null);
                populate(depth, t);
            } else {
                t = makeTree(depth);
            }
            sink = t;
            made += treeSize(depth);
            topDown = !topDown;
            if (topDown) depth += 2;
            if (depth > 10) depth = 4;
        }

        long check = 0;
        for (Link l = kept; l != null; l = l.next) check += countNodes(l.tree) + 1;
        System.out.println(check == keptNodes);
        System.out.println((built - start) / 1e9);
        System.out.println((System.nanoTime() - built) / 1e9);
    }
}
