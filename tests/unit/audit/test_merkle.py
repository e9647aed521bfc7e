"""The RFC 6962 tree: the frontier, the level tree and both proofs against the definition.

Known answers: the RFC 6962 test vectors of certificate-transparency-go (``merkle/testonly``:
the roots of the first 1..8 leaves of its eight test inputs), so a mistake that is consistent
between our tree and our verifier still fails. The properties cover every size to 70 and random
larger ones. Checked to fail: swapping ``node_hash``'s prefix to 0x00, splitting at n // 2
instead of the largest power of two (sizes 3, 5, 6, 7 break the vectors), and dropping the
``fn == sn`` branch of the verifiers (every proof of a last leaf in an unbalanced tree fails).
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle as mk

# certificate-transparency-go merkle/testonly: LeafInputs() and RootHashes()
LEAF_INPUTS = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
               b"\x50\x51\x52\x53\x54\x55\x56\x57",
               b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

LEAVES = [mk.leaf_hash(d) for d in LEAF_INPUTS]


def leaves(n: int) -> list[bytes]:
    return [mk.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_known_roots() -> None:
    assert mk.root_of([]).hex() == EMPTY == mk.Frontier().root().hex()
    for n, expected in enumerate(ROOTS, start=1):
        assert mk.root_of(LEAVES[:n]).hex() == expected
        frontier = mk.Frontier()
        frontier.extend(LEAVES[:n])
        assert frontier.root().hex() == expected
        assert mk.MerkleTree(LEAVES).root(n).hex() == expected


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert mk.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert mk.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@pytest.mark.parametrize("n", range(0, 71))
def test_every_small_tree(n: int) -> None:
    hs = leaves(n)
    tree = mk.MerkleTree(hs) if n else None
    frontier = mk.Frontier()
    for size in range(1, n + 1):
        frontier.append(hs[size - 1])
        root = mk.root_of(hs[:size])
        assert frontier.root() == root
        assert tree is not None and tree.root(size) == root
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert mk.verify_inclusion(index, size, hs[index], proof, root)
            assert not mk.verify_inclusion(index, size, mk.leaf_hash(b"other"), proof, root)
            if size > 1:
                assert not mk.verify_inclusion((index + 1) % size, size, hs[index], proof, root)
        for old in range(0, size + 1):
            proof = tree.consistency_proof(old, size)
            old_root = mk.root_of(hs[:old])
            assert mk.verify_consistency(old, size, old_root, root, proof), (old, size)
            if 0 < old < size:
                assert not mk.verify_consistency(old, size, mk.leaf_hash(b"x"), root, proof)
                assert not mk.verify_consistency(old, size, old_root, mk.leaf_hash(b"x"), proof)
                assert not mk.verify_consistency(old, size, old_root, root, [])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_random_trees(n: int, data: st.DataObject) -> None:
    hs = leaves(n)
    tree = mk.MerkleTree(hs)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    root = mk.root_of(hs[:size])
    assert tree.root(size) == root
    proof = tree.inclusion_proof(index, size)
    assert len(proof) <= size.bit_length()
    assert mk.verify_inclusion(index, size, hs[index], proof, root)
    assert mk.verify_consistency(old, size, mk.root_of(hs[:old]), root,
                                 tree.consistency_proof(old, size))
    # a history that differs in one leaf below the old size is never consistent
    if 0 < old < size:
        changed = list(hs)
        changed[data.draw(st.integers(0, old - 1))] = mk.leaf_hash(b"edited")
        forged_root = mk.root_of(changed[:size])
        assert not mk.verify_consistency(old, size, mk.root_of(hs[:old]), forged_root,
                                         mk.MerkleTree(changed).consistency_proof(old, size))


def test_a_proof_of_the_wrong_length_is_refused() -> None:
    hs = leaves(10)
    tree = mk.MerkleTree(hs)
    proof = tree.inclusion_proof(3, 10)
    root = tree.root()
    assert not mk.verify_inclusion(3, 10, hs[3], proof[:-1], root)
    assert not mk.verify_inclusion(3, 10, hs[3], [*proof, hs[0]], root)
    assert not mk.verify_inclusion(10, 10, hs[3], proof, root)


def test_frontier_round_trips_and_refuses_a_wrong_shape() -> None:
    frontier = mk.Frontier()
    frontier.extend(leaves(11))
    again = mk.Frontier(frontier.size, frontier.hashes)
    assert again.root() == frontier.root()
    with pytest.raises(ValueError):
        mk.Frontier(11, frontier.hashes[:-1])
