// tests/integration/cxx_workload.cc - a deterministic C++ workload for cxx.sh.
// libstdc++'s operator new/delete call malloc/free, and C++17 aligned new calls
// aligned_alloc, so containers, strings, shared_ptr, threads and over-aligned
// types all reach the preloaded allocator.  Output depends only on the computation.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

struct alignas(64) Line {
    std::uint64_t v[8];
};

struct alignas(4096) Page {
    unsigned char b[4096];
};

static std::uint64_t lcg(std::uint64_t &s)
{
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return s >> 29;
}

int main()
{
    std::uint64_t s = 7;
    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 50000; i++) {
        std::string k = "k" + std::to_string(lcg(s) % 3000);
        m[k].push_back(i);
    }
    std::size_t total = 0;
    for (auto &kv : m)
        total += kv.second.size() * kv.first.size();
    std::printf("map keys %zu weight %zu\n", m.size(), total);

    std::unordered_map<int, std::string> u;
    for (int i = 0; i < 40000; i++)
        u[i % 9000] += static_cast<char>('a' + i % 26);
    std::size_t ulen = 0;
    for (auto &kv : u)
        ulen += kv.second.size();
    std::printf("unordered %zu chars %zu\n", u.size(), ulen);

    std::vector<std::unique_ptr<Line>> lines;
    std::size_t misaligned = 0;
    for (int i = 0; i < 5000; i++) {
        lines.emplace_back(new Line());
        misaligned += reinterpret_cast<std::uintptr_t>(lines.back().get()) % alignof(Line) != 0;
        lines.back()->v[i % 8] = static_cast<std::uint64_t>(i);
    }
    std::vector<Page> pages(64);
    misaligned += reinterpret_cast<std::uintptr_t>(pages.data()) % alignof(Page) != 0;
    auto *pg = new Page[3];
    misaligned += reinterpret_cast<std::uintptr_t>(pg) % alignof(Page) != 0;
    delete[] pg;
    std::printf("over-aligned objects misaligned: %zu\n", misaligned);
    lines.erase(std::remove_if(lines.begin(), lines.end(), [](const std::unique_ptr<Line> &l) { return l->v[3] % 2 == 1; }),
                lines.end());
    std::printf("lines kept %zu\n", lines.size());

    std::mutex mu;
    std::vector<std::string> results;
    std::vector<std::thread> th;
    for (int t = 0; t < 6; t++)
        th.emplace_back([t, &mu, &results] {
            std::vector<std::shared_ptr<std::string>> v;
            for (int i = 0; i < 20000; i++)
                v.push_back(std::make_shared<std::string>(static_cast<std::size_t>(i % 300), static_cast<char>('A' + t)));
            std::size_t n = 0;
            for (auto &p : v)
                n += p->size();
            std::lock_guard<std::mutex> g(mu);
            results.push_back("thread " + std::to_string(t) + " " + std::to_string(n));
        });
    for (auto &x : th)
        x.join();
    std::sort(results.begin(), results.end());
    for (auto &r : results)
        std::printf("%s\n", r.c_str());
    return misaligned == 0 ? 0 : 1;
}
