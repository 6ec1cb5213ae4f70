"""The glossary page (``notebooks/glossary.ipynb``): every term the collection uses, a plain
definition, the notebook that introduces it, and the source article's Chinese term beside the
English one.

* :data:`TERMS` is the one list (a :class:`Term` per row). ``article`` names the section of the
  source article (``shared/seed``) that uses the Chinese term; where it is empty, the article
  does not use the term and the Chinese is the usual translation. ``tests/test_glossary.py``
  checks both against the article's text, and checks that each notebook named in ``notebook``
  mentions its term.
* :func:`glossary_frame` and :func:`markdown_table` render it; :func:`draw_term_map` draws the
  article's terms by the notebook that introduces them, with the Chinese characters.

Chinese text in a figure needs a font with CJK glyphs, which matplotlib's default (DejaVu Sans)
lacks. :func:`find_cjk_font` finds an installed one and :func:`cjk_fontfamily` returns a family
*list* for one text artist (``fontfamily=``): matplotlib falls back through it glyph by glyph,
Latin letters from the usual sans-serif and Chinese from the CJK font. Nothing here touches
``rcParams``, neither at import nor when drawing. :func:`resolve_fonts` says which font draws
each character of a text, following the same fallback order (tested).
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import matplotlib as mpl
import pandas as pd
from matplotlib import font_manager

from gnnedu.plot import USER_COLOR, Figure, new_figure

# The notebooks a term can be introduced in (file names; the glossary links to them).
NOTEBOOKS = {
    0: "00_welcome.ipynb",
    1: "01_recommendation_as_a_graph.ipynb",
    2: "02_graph_convolution_by_hand.ipynb",
    3: "03_message_passing_explorer.ipynb",
    4: "04_gcn_on_cora.ipynb",
    5: "05_movielens_as_a_graph.ipynb",
    6: "06_evaluating_recommendations.ipynb",
    7: "07_gcn_recommendation.ipynb",
    8: "08_exploring_recommendations.ipynb",
    9: "09_where_graphs_help.ipynb",
    10: "10_predicting_ratings.ipynb",
    11: "11_scaling_up.ipynb",
}

# Installed CJK fonts tried first, in this order (simplified Chinese first): Debian/Ubuntu's
# fonts-noto-cjk and conda-forge's font-ttf-noto-cjk, Adobe's Source Han, WenQuanYi, then the
# fonts that ship with Windows and macOS.
CJK_FONT_PREFERENCES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Droid Sans Fallback",
    "Microsoft YaHei", "SimHei", "DengXian", "SimSun",
    "PingFang SC", "Hiragino Sans GB", "Heiti SC", "STHeiti", "Songti SC", "Arial Unicode MS",
    "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Sans CJK KR", "Noto Serif CJK SC",
)
CJK_SAMPLE = "消息传递聚合函数图卷积网络负采样冷启动召回率过平滑"  # glyphs a CJK font must have
INSTALL_HINT = (
    "install a CJK font (Debian/Ubuntu: apt-get install fonts-noto-cjk; conda: conda install "
    "-c conda-forge font-ttf-noto-cjk; Windows and macOS ship one), then delete matplotlib's "
    "font cache (the fontlist-*.json in matplotlib.get_cachedir()) and restart the kernel"
)
GENERIC_FAMILIES = ("serif", "sans-serif", "cursive", "fantasy", "monospace")


@dataclass(frozen=True)
class Term:
    """One glossary row.

    Attributes:
        english: the term as the notebooks write it.
        chinese: the article's Chinese term (or the usual translation when ``article`` is "").
        definition: a plain definition, in the notation of ``notebooks/notation.md``.
        notebook: the notebook (0-11) that introduces it; None for terms only the article uses.
        article: the article's section that uses ``chinese`` ("4.1"), or "" if it does not.
        pattern: a case-insensitive regular expression that finds the term in the notebook's
            text (defaults to ``english``).
    """

    english: str
    chinese: str
    definition: str
    notebook: int | None
    article: str = ""
    pattern: str = ""

    @property
    def search(self) -> str:
        return self.pattern or self.english


T = Term
TERMS: tuple[Term, ...] = (
    # -- 00 --
    T("seed", "随机种子",
      "The number that starts a pseudo-random generator. The same seed gives the same split, "
      "initial weights and sampled negatives, so the same printed numbers; "
      "`setup_notebook(seed)` sets it everywhere.", 0),
    T("widget", "交互控件",
      "A slider, menu or button wired to a pure `gnnedu` function: moving it re-runs the "
      "function and redraws. No conclusion depends on a widget's position; the default call "
      "is always printed too.", 0),
    T("your turn", "动手练习",
      "A marked cell where the learner writes a function, followed by a check cell that prints "
      "pass or not yet with a hint; the solutions are in `notebooks/solutions/`.", 0, "",
      r"your turn"),
    # -- 01 --
    T("recommender system", "推荐系统",
      "A program that ranks items (movies, products, songs) for each user by how likely the "
      "user is to want them, learned from past interactions.", 1, "1", r"recommender"),
    T("user", "用户", "The person recommendations are made for; a node of the user-item graph.",
      1, "2.2"),
    T("item", "项目",
      "Whatever is recommended: a movie in MovieLens. The article says 项目; much Chinese "
      "writing on recommenders says 物品.", 1, "2.2"),
    T("interaction", "交互",
      "One observed contact between a user and an item (a rating, a click, a purchase); an "
      "edge of the user-item graph.", 1, "2.2"),
    T("rating", "评分",
      "An explicit score, 1-5 stars in MovieLens. From notebook 05 on, any rating counts as one "
      "positive interaction and the stars are not used (implicit feedback).", 1, "2.2"),
    T("content-based recommendation", "基于内容的推荐",
      "Recommends items whose features (genre, words, director) resemble those of the items "
      "the user liked; it needs no other users, but finds only more of the same.", 1, "2.2",
      r"content-based"),
    T("collaborative filtering (CF)", "协同过滤",
      "Recommends from the pattern of who interacted with what, ignoring what the items are: "
      "people who liked the same things before tend to like the same things next.", 1, "1",
      r"collaborative filtering"),
    T("item-based collaborative filtering", "基于物品的协同过滤",
      "Scores an item by its similarity to the items the user liked, two items being similar "
      "when the same users liked both ([Sarwar et al. 2001](references.md#sarwar2001)); "
      "ItemKNN is its normalised form.", 1,
      "", r"item-based"),
    T("model-based recommendation", "基于模型的推荐",
      "Fits a model with learned parameters, such as one vector per user and per item, to the "
      "interactions and predicts the missing ones; matrix factorisation and GNN recommenders "
      "are model-based.", 1, "2.2", r"model-based"),
    T("cold start", "冷启动",
      "Recommending to a user, or recommending an item, with no or very few interactions: "
      "collaborative filtering then has nothing to go on.", 1, "1", r"cold[- ]start"),
    T("graph neural network (GNN)", "图神经网络",
      "A neural network whose layers pass messages along a graph's edges, so that a node's "
      "vector comes to depend on its neighbours' vectors.", 1, "1", r"graph neural network"),
    T("node", "节点", "A vertex of a graph: a user, a movie, a paper.", 1, "1"),
    T("edge", "边",
      "A link between two nodes: a rating, a citation, a friendship. An undirected edge is "
      "stored as two directed ones.", 1, "1"),
    T("bipartite graph", "二部图",
      "A graph whose nodes fall into two sets with edges only between the sets: users on one "
      "side, items on the other, an edge per interaction.", 1, "", r"bipartite"),
    T("user-item graph", "用户-项目图",
      "The bipartite graph of users and items with one edge per interaction (the article's "
      "name for it).", 1, "2.3", r"user-item graph"),
    T("adjacency matrix", "邻接矩阵",
      "$A$, with $A_{ij} = 1$ when $j$ sends to $i$. For users and items, users first: its "
      "user-item block is $R$, its item-user block $R^\\top$, the rest is 0.", 1, ""),
    T("interaction matrix (biadjacency matrix)", "交互矩阵",
      "$R \\in \\{0,1\\}^{\\lvert U\\rvert\\times\\lvert I\\rvert}$: a row per user, a column "
      "per item, 1 where the user "
      "interacted with the item; the user-item block of $A$.", 1, "", r"biadjacency"),
    T("degree", "节点度",
      "$d_i = \\sum_j A_{ij}$, the number of a node's edges: how many movies a user rated "
      "(activity), how many users rated a movie (popularity). $D$ is the diagonal matrix of "
      "degrees.", 1, "", r"degree"),
    T("walk", "游走",
      "A sequence of nodes, each joined to the next by an edge. $(A^k)_{ij}$ counts the walks "
      "of $k$ steps between $j$ and $i$.", 1, "", r"walk"),
    T("co-occurrence matrix", "共现矩阵",
      "$C = R^\\top R$: $C_{xy}$ counts the users who interacted with both $x$ and $y$, the "
      "two-hop paths item → user → item; its diagonal holds each item's popularity.", 1, "",
      r"co-occurrence"),
    T("matrix factorisation (MF)", "矩阵分解",
      "Gives every user and every item a vector of $d$ numbers and scores a pair by their dot "
      "product $e_u \\cdot e_i$, as if the interaction matrix were the product of two thin "
      "matrices. BPR-MF trains it with the BPR loss.", 1, "", r"matrix factori[sz]ation"),
    T("NGCF", "神经图协同过滤",
      "Neural graph collaborative filtering ([Wang et al. 2019](references.md#wang2019b)): "
      "GCN-style layers with weight "
      "matrices and nonlinearities on the user-item graph; LightGCN is its simplification.", 1),
    # -- 02 --
    T("message passing", "消息传递",
      "One round of a GNN layer: every node gathers its neighbours' vectors (the messages), "
      "aggregates them and updates its own vector.", 2, "2.1", r"message[- ]passing"),
    T("neighbour", "邻居节点",
      "$\\mathcal N(i)$, the nodes joined to $i$ by an edge ($i$ itself only if it has a "
      "self-loop).", 2, "2.1", r"neighbou?r"),
    T("aggregation function", "聚合函数",
      "Combines the messages a node receives into one vector, whatever their number: sum, "
      "mean, max or a degree-normalised sum.", 2, "4", r"aggregat"),
    T("mean aggregation", "平均聚合",
      "$m_i = \\frac{1}{\\lvert\\mathcal N(i)\\rvert}\\sum_{j\\in\\mathcal N(i)} h_j$, the "
      "article's rule "
      "(section 4.3); in matrix form $D^{-1}AH$.", 2, "4.1", r"\bmean\b"),
    T("sum aggregation", "求和聚合",
      "$m_i = \\sum_{j\\in\\mathcal N(i)} h_j$, in matrix form $AH$: high-degree nodes get "
      "large vectors, which grow layer after layer.", 2, "4.1", r"\bsum\b"),
    T("weight matrix", "权重矩阵",
      "$W^{(l)}$, the learned matrix a layer multiplies by: $HW$ with row vectors (the article "
      "writes $Wh$ with column vectors).", 2, "4.2", r"weight matri"),
    T("bias", "偏置",
      "$b^{(l)}$, a learned vector added after the weight matrix.", 2, "4.1", r"\bbias\b"),
    T("activation function", "激活函数",
      "The nonlinearity $\\sigma$ applied element-wise after a layer, usually "
      "$\\mathrm{ReLU}(x) = \\max(x, 0)$.", 2, "4.1", r"ReLU|activat"),
    T("node representation", "节点表示",
      "The vector $h_i^{(l)}$ a GNN keeps for node $i$ after layer $l$ (row $i$ of $H^{(l)}$).",
      2, "2.1", r"vector"),
    T("feature", "特征向量",
      "The input vector of a node, $x_i = h_i^{(0)}$ (row $i$ of $X$): one-hot on the "
      "article's triangle, word indicators on Cora. (The article's 特征向量 means feature "
      "vector, not eigenvector.)", 2, "2.1", r"feature"),
    T("graph convolution", "图卷积操作",
      "A message-passing layer that aggregates neighbours with weights fixed by the graph, then "
      "applies $W$, $b$ and $\\sigma$: $H^{(l+1)} = \\sigma(P H^{(l)} W^{(l)} + b^{(l)})$ for a "
      "propagation matrix $P$.", 2, "4", r"graph convolution"),
    T("graph convolutional network (GCN)", "图卷积网络",
      "The model of [Kipf and Welling (2017)](references.md#kipf2017): layers $H^{(l+1)} = "
      "\\sigma(S H^{(l)} W^{(l)} + b^{(l)})$ with "
      "$S = \\tilde D^{-1/2}\\tilde A\\tilde D^{-1/2}$ (self-loops, symmetric normalisation); "
      "PyG's `GCNConv`.", 2, "3.2", r"\bGCN"),
    T("layer", "图卷积层",
      "One round of message passing with its own $W^{(l)}$ and $b^{(l)}$; $L$ layers let "
      "information travel $L$ hops.", 2, "4.1", r"layer"),
    T("self-loop", "自环",
      "An edge from a node to itself. $\\tilde A = A + I$ gives every node one, so that its own "
      "vector is part of its aggregate.", 2, "5.2", r"self-loop"),
    T("symmetric normalisation", "对称归一化",
      "Weighting the message from $j$ to $i$ by $1/\\sqrt{d_i d_j}$: "
      "$\\hat A = D^{-1/2}AD^{-1/2}$ without self-loops (LightGCN), "
      "$S = \\tilde D^{-1/2}\\tilde A\\tilde D^{-1/2}$ with them (GCN).", 2, "", r"symmetric"),
    # -- 03 --
    T("receptive field", "感受野",
      "The nodes that can influence node $i$ after $k$ layers: the non-zeros of row $i$ of "
      "$\\tilde A^k$ (with self-loops, every node within $k$ hops) or of $A^k$ (without, only "
      "walks of exactly $k$ steps).", 3),
    T("multi-hop propagation", "多跳传播",
      "Stacking layers so that information travels several hops: after $k$ layers a node hears "
      "its $k$-hop neighbourhood.", 3, "4.1", r"\bhops?\b"),
    T("max aggregation", "最大值聚合",
      "The element-wise maximum of the neighbours' vectors (GraphSAGE's pooling variant, "
      "[Hamilton et al. 2017](references.md#hamilton2017)); it ignores how many neighbours "
      "there are.", 3, "", r"\bmax\b"),
    T("over-smoothing", "过平滑",
      "With many layers, repeated averaging makes the node vectors (nearly) alike, so they no "
      "longer tell nodes apart; measured by the spread of their directions or the Dirichlet "
      "energy.", 3, "", r"over-?smooth"),
    T("Dirichlet energy", "狄利克雷能量",
      "$E(H) = \\frac12\\sum_{ij} A_{ij}\\lVert h_i - h_j\\rVert^2$: how much neighbours "
      "differ; 0 exactly when every node equals its neighbours.", 3),
    T("spread of node directions", "方向离散度",
      "Scale every node vector to length 1 and take the root-mean-square distance from their "
      "mean direction: 0 exactly when all nodes point the same way.", 3, "", r"\bspread"),
    T("Zachary's karate club", "空手道俱乐部网络",
      "34 members of a university karate club and the friendships between them; the club split "
      "in two after a conflict ([Zachary 1977](references.md#zachary1977)).", 3, "",
      r"karate"),
    # -- 04 --
    T("node classification", "节点分类",
      "Predicting a label for every node from the features and the graph, given the labels of "
      "a few nodes: the topics of Cora's papers.", 4, "4.1"),
    T("link prediction", "链接预测",
      "Predicting which missing edges exist or will appear; recommendation is link prediction "
      "on the user-item graph.", 4, "4.1"),
    T("Cora", "Cora数据集",
      "A citation network of 2,708 machine-learning papers, each described by which of 1,433 "
      "words it contains and labelled with one of 7 topics ([McCallum et al. "
      "2000](references.md#mccallum2000); "
      "[Sen et al. 2008](references.md#sen2008)). The article calls it an academic "
      "collaboration network (学术合作网络); it is "
      "not.", 4, "5.3"),
    T("citation network", "引文网络",
      "Papers as nodes, a citation between two papers as an edge.", 4),
    T("homophily", "同质性",
      "The tendency of linked nodes to be alike (papers cite papers on the same topic); "
      "averaging over neighbours helps on a homophilous graph.", 4, "", r"homophil"),
    T("semi-supervised learning", "半监督学习",
      "Learning from a few labelled examples plus many unlabelled ones whose features and links "
      "are visible: Cora's public split labels 140 of the 2,708 papers.", 4, "",
      r"semi-supervised"),
    T("training set", "训练集",
      "The labelled examples (or interactions) a model fits its parameters to.", 4, "5.2",
      r"train"),
    T("validation set", "验证集",
      "Examples held out from the training data to choose settings (epochs, $\\lambda$, "
      "depth); never the test set.", 4, "", r"validation"),
    T("test set", "测试集",
      "Examples held out until the end and read once, to report how the final model does on "
      "data it has not seen.", 4, "5.2", r"\btest\b"),
    T("accuracy", "准确率",
      "The share of predictions that are correct (node classification). Ranked lists are "
      "scored with precision, recall and NDCG instead.", 4, "3.2"),
    T("loss function", "损失函数",
      "The number training minimises: cross-entropy for classification, BPR for ranking.", 4,
      "5.2", r"\bloss"),
    T("cross-entropy loss", "交叉熵损失函数",
      "Minus the log-probability the model gives the true class, averaged over the labelled "
      "nodes; a uniform guess over $C$ classes scores $\\ln C$.", 4, "5.3", r"cross-entropy"),
    T("optimiser", "优化器",
      "The rule that turns gradients into parameter updates; Adam throughout the collection.",
      4, "5.2", r"\bAdam\b"),
    T("gradient descent", "梯度下降",
      "Moving each parameter a small step against the gradient of the loss; Adam is a variant "
      "with a step size per parameter. The article's 参数更新 (parameter update) is this step.",
      4, "2.1", r"gradient|\bAdam\b"),
    T("learning rate", "学习率", "The step size of gradient descent.", 4, "5.5"),
    T("epoch", "训练轮次",
      "One pass over the training data: one full-batch step on Cora, one pass over all training "
      "interactions in batches on MovieLens.", 4, "", r"epoch"),
    T("dropout", "随机失活",
      "During training, zero each input of a layer with probability $p$ and scale the rest by "
      "$1/(1-p)$; a regulariser. The article writes it in English (Dropout).", 4, "",
      r"dropout"),
    T("L2 regularisation (weight decay)", "L2正则化",
      "Adding $\\frac{\\lambda}{2}$ times the squared size of the parameters to the loss, which "
      "keeps them small and limits overfitting.", 4, "5.5", r"weight decay|L2"),
    T("overfitting", "过拟合",
      "Fitting the training data ever better while doing worse on held-out data: the training "
      "loss keeps falling while the validation score stops rising.", 4, "5.5",
      r"overfit|gap"),
    T("hidden layer", "隐藏层",
      "A layer between the input and the output; the Cora GCN's hidden layer holds 16 numbers "
      "per paper.", 4, "", r"hidden"),
    T("multi-layer perceptron (MLP)", "多层感知机",
      "The same layers without the graph: each node is classified from its own features only, "
      "the baseline that shows what the edges add.", 4, "", r"\bMLP\b"),
    T("SGC", "简化图卷积",
      "Simplified graph convolution ([Wu et al. 2019](references.md#wu2019)): drop the "
      "nonlinearities, compute "
      "$S^K X$ once, and train logistic regression on it.", 4, "", r"\bSGC\b"),
    T("principal component analysis (PCA)", "主成分分析",
      "The orthogonal directions along which points vary most; the first two give a 2-D map "
      "of embeddings (`plot.pca_2d`).", 4, "", r"\bPCA\b|principal component"),
    T("paired test", "配对检验",
      "A significance test on the per-seed differences between two models scored on the same "
      "splits (a paired t-test or the Wilcoxon signed-rank test); the variation the splits "
      "cause in both models cancels out.", 4, "", r"\bpaired\b"),
    T("public split (Planetoid)", "公开划分",
      "Cora's fixed split ([Yang et al. 2016](references.md#yang2016)): 20 labelled papers "
      "per topic for training, 500 for validation, 1,000 for testing.", 4, "",
      r"public split"),
    # -- 05 --
    T("implicit feedback", "隐式反馈",
      "Interactions that only say that something happened (a view, a click, any rating). An "
      "absent edge may mean dislike or simply never seen.", 5, "", r"implicit"),
    T("data sparsity", "数据稀疏性",
      "Most user-item pairs have no interaction. Density $= \\lvert E\\rvert / (\\lvert "
      "U\\rvert\\,\\lvert I\\rvert)$, sparsity "
      "$= 1 -$ density; MovieLens-100K fills 6.3% of its user × movie matrix.", 5, "1",
      r"sparsity|density"),
    T("long tail", "长尾",
      "The many items with few interactions, beside a small head of popular items that collect "
      "most of them.", 5, "", r"long tail"),
    T("popularity", "流行度",
      "An item's number of interactions (its degree). The Popularity baseline recommends the "
      "most popular unseen items to everyone.", 5, "", r"popular"),
    T("heterogeneous graph", "异构图",
      "A graph with several node and edge types, each with its own features (PyG's "
      "`HeteroData`: users and movies).", 5, "", r"heterogeneous|HeteroData"),
    T("data split", "数据划分",
      "How interactions are divided into training and test: per-user random (protocol P1), "
      "temporal (each user's last ratings), or an official split (MovieLens' u1-u5).", 5, "",
      r"\bsplit"),
    T("data leakage", "数据泄露",
      "Test information reaching training or model selection, such as test edges inside the "
      "propagation graph or settings chosen on test scores; results then look better than "
      "they are.", 5, "", r"leak"),
    T("hyper-parameter tuning", "参数调优",
      "Choosing the settings that training does not learn ($\\lambda$, learning rate, depth, "
      "epochs), on validation data only.", 5, "3.3", r"hyper-parameter"),
    T("embedding", "嵌入向量",
      "A learned vector of $d$ numbers for each user and each item ($d = 64$ in notebooks 07 "
      "and 08). Without node features the layer-0 embeddings $E^{(0)}$ are free parameters.",
      5, "2.1", r"embedding"),
    T("negative sampling", "负采样",
      "Drawing items a user has not interacted with, to serve as negatives in training; "
      "uniform here, redrawn when one is a training item of the user.", 5, "3.2",
      r"negative sampl|sampled negative|negatives"),
    T("false negative", "假负例",
      "A sampled negative that the user in fact likes (or has in the test set).", 5, "",
      r"false negative"),
    T("BPR loss", "贝叶斯个性化排序损失",
      "Bayesian personalised ranking ([Rendle et al. 2009](references.md#rendle2009)): "
      "$-\\ln\\sigma(\\hat y_{ui} - \\hat y_{uj})$ for a positive $i$ and a sampled negative "
      "$j$, averaged over the batch, plus $\\frac{\\lambda}{2}$ times the squared layer-0 "
      "norms.", 5, "", r"\bBPR\b"),
    T("protocol P1", "评测协议 P1",
      "The collection's benchmark setting: MovieLens-100K, every rating an implicit positive, "
      "a per-user random 80/20 split, seeds 0-4, full ranking with training items masked.", 5,
      "", r"\bP1\b"),
    T("MovieLens-100K", "MovieLens-100K 数据集",
      "100,000 ratings (1-5 stars) by 943 users of 1,682 movies, from GroupLens "
      "([Harper and Konstan 2015](references.md#harper2015)); every user rated at least 20 "
      "movies.", 5, "", r"MovieLens-100K"),
    T("homogeneous graph", "同构图",
      "A graph with one node type and one edge type: users and movies numbered in one range "
      "(users first) with one `edge_index`, the form `gnnedu.models` use.", 5, "",
      r"homogeneous"),
    T("Gini coefficient", "基尼系数",
      "How unequally interactions are spread over items: 0 when every item has the same "
      "number, close to 1 when one item has them all.", 5, "", r"gini"),
    T("leave-one-out split", "留一法划分",
      "Each user's most recent interaction is the test set and the rest is training; the "
      "protocol of many papers.", 5, "", r"leave-one-out"),
    # -- 06 --
    T("evaluation metric", "评估指标",
      "A number that scores a model's output against held-out data; for ranked lists: "
      "precision, recall, NDCG, MAP, hit rate and MRR at $K$.", 6, "3.2", r"metric"),
    T("top-K list", "推荐列表",
      "The $K$ highest-scoring items for a user, the user's training items masked.", 6, "2.2",
      r"top-\$?K|\blist"),
    T("masking", "屏蔽已交互物品",
      "Setting the scores of a user's training items to $-\\infty$ before taking the top $K$, "
      "so that nothing already seen is recommended again.", 6, "", r"mask"),
    T("full ranking", "全量排序",
      "Ranking every item of the catalogue for every user, all 1,682 movies here.", 6, "",
      r"full ranking"),
    T("sampled evaluation", "采样评估",
      "Ranking each test item against a few random negatives (1 + 100) instead of the whole "
      "catalogue; it can order models differently from full ranking ([Krichene and Rendle "
      "2020](references.md#krichene2020)).", 6, "", r"sampled"),
    T("precision@K", "精确率",
      "Hits in the top $K$ divided by $K$.", 6, "", r"precision"),
    T("recall@K", "召回率",
      "Hits in the top $K$ divided by $\\lvert R_u\\rvert$, the number of the user's test "
      "items.", 6, "3.2",
      r"recall"),
    T("F1@K", "F1值", "$2PR/(P+R)$, the harmonic mean of precision and recall.", 6, "3.2",
      r"\bF1"),
    T("NDCG@K", "归一化折损累计增益",
      "Normalised discounted cumulative gain: $\\sum_{i\\le K} \\mathrm{rel}_i/\\log_2(i+1)$, "
      "divided by its value for a perfect list; it rewards hits near the top.", 6, "",
      r"NDCG"),
    T("MAP@K", "平均精度均值",
      "The mean over users of AP@K $= \\frac{1}{\\min(K, \\lvert R_u\\rvert)}\\sum_{i\\le K} "
      "\\mathrm{rel}_i\\,\\mathrm{Precision@}i$.", 6, "", r"\bMAP\b"),
    T("hit rate@K", "命中率",
      "1 if at least one test item is in the top $K$, else 0; averaged over users.", 6, "",
      r"hit ?rate"),
    T("MRR@K", "平均倒数排名",
      "1 over the position of the first hit in the top $K$ (0 if none); averaged over users.",
      6, "", r"\bMRR"),
    T("coverage@K", "覆盖率",
      "The share of the catalogue that appears in at least one user's top-$K$ list.", 6, "",
      r"coverage"),
    T("similarity", "相似度",
      "How alike two items (or users) are: the cosine of their co-occurrence counts in "
      "ItemKNN, the dot product of their embeddings in MF and LightGCN.", 6, "6.1",
      r"similarit"),
    T("baseline", "基线模型",
      "A simple model a new one must beat to mean anything: Random, Popularity, ItemKNN, EASE, "
      "BPR-MF.", 6, "", r"baseline"),
    T("ItemKNN", "物品K近邻",
      "Item-based $k$-nearest neighbours: cosine similarity $C_{ij}/\\sqrt{C_{ii}C_{jj}}$ of "
      "the co-occurrence counts, each item keeping its $k$ most similar items; the score of "
      "user $u$ is $R_u S$.", 6),
    T("EASE", "浅层线性自编码器",
      "Embarrassingly shallow autoencoder ([Steck 2019](references.md#steck2019)): the "
      "item-item matrix $B$ minimising "
      "$\\lVert R - RB\\rVert^2 + \\lambda\\lVert B\\rVert^2$ with $\\mathrm{diag}(B) = 0$, in "
      "closed form; the score of user $u$ is $R_u B$.", 6),
    T("standard deviation over seeds", "标准差",
      "The spread of a metric over runs that differ only in their seed: results are written "
      "mean ± std over seeds 0-4.", 6, "", r"\bstd\b|standard deviation"),
    # -- 07 --
    T("encoder and decoder", "编码器与解码器",
      "The encoder computes node embeddings (the GCN layers); the decoder turns a user's and "
      "an item's embeddings into a score, here their dot product.", 7, "", r"encoder"),
    T("dot product", "点积",
      "$e_u \\cdot e_i = \\sum_k e_{uk} e_{ik}$: the score of user $u$ for item $i$ in MF, GCN "
      "and LightGCN.", 7, "", r"dot product"),
    T("LightGCN", "轻量图卷积网络",
      "[He et al. 2020](references.md#he2020): no weight matrices, no nonlinearity, no self-loops; "
      "$E^{(k)} = \\hat A E^{(k-1)}$ and the final embedding is the layer average "
      "$\\sum_k \\alpha_k E^{(k)}$ with $\\alpha_k = 1/(L+1)$, trained with BPR.", 7),
    T("layer combination", "层组合",
      "Scoring with a weighted sum of every layer's embeddings instead of the last layer's; it "
      "keeps each node's own layer-0 embedding in the mix and slows over-smoothing.", 7, "",
      r"averag"),
    T("early stopping", "早停",
      "Measuring the validation metric every few epochs and stopping once it has not improved "
      "for a while (the patience), keeping the parameters of the best epoch.", 7, "",
      r"early stopping|stops? early"),
    T("ablation", "消融实验",
      "Removing a model's ingredients one at a time and measuring each step, to see what each "
      "one is worth.", 7),
    # -- 08 --
    T("explainability", "可解释性",
      "Saying why a model made a prediction. LightGCN is linear after its embedding table, so "
      "a score splits exactly into contributions of the user's movies and of neighbour users.",
      8, "3.3", r"expla"),
    T("fold-in", "折入",
      "Adding a new user to a trained model without retraining, by computing the user's "
      "embedding from the items they chose, with no layer-0 embedding of their own.", 8, "",
      r"fold"),
    T("user activity", "用户活跃度",
      "A user's number of training interactions (the user's degree); notebook 08 groups users "
      "into activity buckets.", 8, "", r"activity"),
    T("popularity bias", "流行度偏差",
      "Recommending popular items more often than the users' tastes warrant; measured by "
      "ARP@K and the share of slots given to long-tail items.", 8, "", r"popularity bias|bias"),
    T("ARP@K", "平均推荐流行度",
      "Average recommendation popularity: the mean training popularity (share of users who "
      "interacted) of the items in the top-$K$ lists.", 8, "", r"\bARP"),
    T("graph attention network (GAT)", "图注意力网络",
      "[Veličković et al. 2018](references.md#velickovic2018): aggregation weights learned per "
      "edge by an attention mechanism (注意力机制, article section 4.1) instead of fixed by the "
      "degrees: $\\alpha_{ij} = \\mathrm{softmax}_j\\, \\mathrm{LeakyReLU}(a^\\top "
      "[W h_i \\Vert W h_j])$ over the $j$ in $i$'s neighbourhood, self-loop included.", 2,
      "3.2",
      r"graph attention|\bGAT\b"),
    T("side information", "辅助信息",
      "What is known about a user or item besides its interactions (age, occupation; genres, "
      "release year): node features that let a model say something about new nodes.", 9, "",
      r"side information"),
    T("inductive model", "归纳式模型",
      "A model that can embed a node it never saw in training, from its features and links, "
      "without retraining; an ID-embedding model is transductive and cannot.", 9, "",
      r"inductive"),
    T("rating prediction", "评分预测",
      "Predicting the number of stars $r_{ui}$ a user would give an item, scored by the error on "
      "held-out ratings (RMSE, MAE) rather than by a ranking metric.", 10, "",
      r"rating prediction"),
    T("RMSE", "均方根误差",
      "Root mean squared error of predicted ratings: $\\sqrt{\\frac{1}{n}\\sum (\\hat r_{ui} - "
      "r_{ui})^2}$ over the $n$ test ratings.", 10, "", r"\bRMSE"),
    T("MAE", "平均绝对误差",
      "Mean absolute error of predicted ratings: the mean of $\\lvert \\hat r_{ui} - r_{ui} "
      "\\rvert$ over the test ratings; it weighs large errors less than RMSE.", 10, "", r"\bMAE"),
    T("graph autoencoder (GAE)", "图自编码器",
      "A GNN encoder trained to reconstruct the graph, its edges or their values, from the "
      "node embeddings ([Kipf and Welling 2016](references.md#kipf2016)); GC-MC reconstructs "
      "the ratings.", 10, "6.4.1", r"graph autoencoder"),
    T("GC-MC", "图卷积矩阵补全",
      "Graph convolutional matrix completion ([van den Berg et al. "
      "2017](references.md#vandenberg2017)): a graph autoencoder with one edge type per rating "
      "level and a bilinear decoder with a softmax over the levels.", 10, "", r"GC-MC"),
    # -- 11 --
    T("graph filter", "图滤波器",
      "A function $h$ applied to the eigenvalues of a graph matrix: the part of a signal along "
      "each eigenvector is multiplied by that eigenvector's gain. LightGCN's layer combination "
      "$\\sum_k \\alpha_k \\hat A^k$ is one, a polynomial in $\\hat A$.", 11, "",
      r"graph filter"),
    T("frequency response", "频率响应",
      "A graph filter's gain as a function of the eigenvalue: $h(\\mu) = \\sum_{k=0}^{L} "
      "\\alpha_k \\mu^k$ for LightGCN over $\\hat A$, $h(\\lambda)$ over the item graph "
      "$\\hat P$. Eigenvalues near 1 are the smooth, low frequencies.", 11, "",
      r"frequency response"),
    T("ideal low-pass filter", "理想低通滤波器",
      "Gain 1 on the $k$ eigenvectors of $\\hat P = \\hat R^\\top \\hat R$ with the "
      "largest eigenvalues $\\lambda$ (the smoothest) and 0 on all the others; computed from "
      "the top $k$ right singular vectors of $\\hat R$.", 11, "", r"low-pass"),
    T("training-free filter (GF-CF, BSPM)", "免训练图滤波器",
      "Scores user $u$ by filtering the row $r_u$ of $R$ directly, $s_u = r_u\\, h(\\hat P)$, "
      "with no embeddings and no gradient steps. GF-CF ([Shen et al. "
      "2021](references.md#shen2021)) adds an ideal low-pass to the linear filter "
      "$h(\\lambda) = \\lambda$; BSPM ([Choi et al. 2023](references.md#choi2023)) blurs, adds "
      "a low-pass and sharpens.", 11, "", r"training-free"),
    T("hard negative", "困难负样本",
      "A negative chosen to be difficult: for each positive, the item the current model scores "
      "highest among a few random items the user has not interacted with (8 in notebook 11), "
      "used as the $j$ of the BPR triple instead of a uniform draw.", 11, "", r"hard negative"),
    T("data parallelism", "数据并行",
      "Every process holds a full copy of the model and computes the gradient of its own slice "
      "of the batch; the gradients are averaged (an all-reduce, PyTorch's DDP) before every "
      "step, so that $N$ processes can train the same model as one.", 11, "5.5",
      r"data[- ]parallel"),
    T("distributed training", "分布式训练",
      "Training one model with several processes or machines that exchange gradients, "
      "parameters or parts of the graph (`torch.distributed`, started by `torchrun`). Data "
      "parallelism is one form; spreading graph partitions or the embedding table over "
      "machines are others.", 11, "6.4.2", r"distributed training"),
    T("growth exponent (power law)", "幂律增长指数",
      "The slope $s$ of a power law $\\text{cost} \\approx c\\,\\lvert E\\rvert^{s}$ in the "
      "number of training interactions, a straight line on log-log axes: 1 is linear growth, "
      "2 quadratic. Where a fixed cost still dominates, the fitted $s$ understates later "
      "growth.", 11, "", r"growth exponent"),
    # -- only in the article --
    T("edge representation", "边表示",
      "A vector attached to an edge (strength or type of an interaction). No model in "
      "notebooks 00-08 learns one.", None, "2.1"),
    T("feature fusion", "特征融合",
      "The article's step that combines a node's own vector with its neighbours'; in the "
      "notebooks that is the self-loop (GCN) or the layer combination (LightGCN).", None,
      "2.1"),
    T("parameter update", "参数更新",
      "The article's name for one step of gradient descent on the model's parameters.", None,
      "2.1"),
    T("knowledge graph", "知识图谱",
      "A graph of entities joined by typed relations; a recommender can use one as side "
      "information.", None, "1"),
    T("generalisation", "泛化能力",
      "How well a model does on data it was not trained on: what validation and test scores "
      "estimate.", None, "3.2"),
)
del T


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _sorted(terms: Iterable[Term]) -> list[Term]:
    return sorted(terms, key=lambda t: t.english.lower())


def introduced_in(term: Term) -> str:
    """``"02"`` for a term introduced in notebook 02, ``"article only"`` for the others."""
    return "article only" if term.notebook is None else f"{term.notebook:02d}"


def glossary_frame(terms: Sequence[Term] = TERMS) -> pd.DataFrame:
    """The glossary as a DataFrame, one row per term in alphabetical order.

    Columns: ``English``, ``中文`` (Chinese), ``definition``, ``introduced in`` (a notebook
    number or "article only") and ``article §`` (the section that uses the Chinese term, "" if
    the article does not).
    """
    rows = [{"English": t.english, "中文": t.chinese, "definition": t.definition,
             "introduced in": introduced_in(t), "article §": t.article} for t in _sorted(terms)]
    return pd.DataFrame(rows)


def markdown_table(terms: Sequence[Term] = TERMS) -> str:
    """The glossary as a Markdown table (alphabetical), each notebook number a link to it."""
    lines = ["| English | 中文 | definition | introduced in | article § |",
             "|---|---|---|---|---|"]
    for t in _sorted(terms):
        where = (introduced_in(t) if t.notebook is None
                 else f"[{introduced_in(t)}]({NOTEBOOKS[t.notebook]})")
        section = t.article or "—"
        cells = [t.english, t.chinese, t.definition, where, section]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def terms_by_notebook(terms: Sequence[Term] = TERMS) -> dict[int, list[Term]]:
    """``{notebook: [terms introduced there]}`` for notebooks 0-11, in the order of ``terms``."""
    out: dict[int, list[Term]] = {n: [] for n in NOTEBOOKS}
    for t in terms:
        if t.notebook is not None:
            out[t.notebook].append(t)
    return out


# ---------------------------------------------------------------------------------------------
# Fonts
# ---------------------------------------------------------------------------------------------


class MissingCJKFontError(RuntimeError):
    """No installed font has glyphs for the Chinese characters to draw."""


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x3000 <= code <= 0x303F
            or 0xFF00 <= code <= 0xFFEF or 0x20000 <= code <= 0x2FA1F)


def cjk_characters(text: str) -> str:
    """The distinct CJK characters of ``text``, in order of appearance."""
    return "".join(dict.fromkeys(c for c in text if _is_cjk(c)))


def _font_for_family(family: str):
    """The FT2Font matplotlib picks for ``family`` (regular weight), or None if not installed
    (``findfont`` without fallback raises for a family it does not have)."""
    try:
        path = font_manager.findfont(font_manager.FontProperties(family=family),
                                     fallback_to_default=False)
    except ValueError:
        return None
    return font_manager.get_font(path)


def _covers(family: str, chars: str) -> bool:
    font = _font_for_family(family)
    if font is None:
        return False
    charmap = font.get_charmap()
    return all(ord(c) in charmap for c in chars)


@lru_cache(maxsize=32)
def find_cjk_font(text: str = CJK_SAMPLE) -> str | None:
    """The family name of an installed font that has a glyph for every CJK character of
    ``text``, or None.

    :data:`CJK_FONT_PREFERENCES` are tried first, in order; then every other font matplotlib
    knows whose name suggests CJK, then all the rest (never the "Last Resort" font, whose
    glyphs are placeholder boxes).
    """
    chars = cjk_characters(text) or CJK_SAMPLE
    installed = sorted({entry.name for entry in font_manager.fontManager.ttflist})
    installed = [name for name in installed if not name.lower().startswith("last resort")]
    hinted = [n for n in installed if any(k in n for k in ("CJK", "Han", "Hei", "Song", "Ming",
                                                          "Kai", "Gothic", "YaHei"))]
    candidates = [n for n in CJK_FONT_PREFERENCES if n in installed]
    candidates += [n for n in hinted if n not in candidates]
    candidates += [n for n in installed if n not in candidates]
    for family in candidates:
        if _covers(family, chars):
            return family
    return None


def cjk_fontfamily(text: str = CJK_SAMPLE) -> list[str]:
    """A font-family list for one text artist that draws ``text``: the current default
    families (``rcParams["font.family"]``, read, never changed) followed by a CJK font, so
    matplotlib takes Latin glyphs from the former and Chinese ones from the latter.

    Raises:
        MissingCJKFontError: no installed font has the CJK characters of ``text``; the
            message says what to install.
    """
    cjk = find_cjk_font(text)
    if cjk is None:
        chars = cjk_characters(text) or CJK_SAMPLE
        raise MissingCJKFontError(f"no installed font has glyphs for {chars[:12]}...: "
                                  f"{INSTALL_HINT}")
    return [*mpl.rcParams["font.family"], cjk]


def _expand(families: Sequence[str]) -> list[str]:
    out: list[str] = []
    for family in families:
        if family.lower() in GENERIC_FAMILIES:
            out.extend(mpl.rcParams[f"font.{family.lower()}"])
        else:
            out.append(family)
    return out


def resolve_fonts(text_artist) -> dict[str, str | None]:
    """Which installed font draws each distinct character of a matplotlib ``Text``.

    Follows matplotlib's fallback order: the artist's families (generic names such as
    "sans-serif" expanded from rcParams), the first installed one whose character map has the
    character wins. A character no family covers maps to None (matplotlib would draw an empty
    box and warn "Glyph ... missing from font(s)").

    Returns:
        ``{character: family name or None}`` for the non-space characters of the text.
    """
    families = _expand(text_artist.get_fontproperties().get_family())
    fonts = [f for f in (_font_for_family(name) for name in families) if f is not None]
    charmaps = [(f.family_name, f.get_charmap()) for f in fonts]
    result: dict[str, str | None] = {}
    for char in dict.fromkeys(text_artist.get_text()):
        if char.isspace():
            continue
        result[char] = next((name for name, cmap in charmaps if ord(char) in cmap), None)
    return result


# ---------------------------------------------------------------------------------------------
# The figure
# ---------------------------------------------------------------------------------------------

LABEL_WIDTH = 17  # characters per English line in the term map
CHINESE_COLOR = USER_COLOR
SHORT_TITLES = {  # column headings of the term map
    0: "welcome", 1: "recommendation\nas a graph", 2: "convolution\nby hand",
    3: "message-passing\nexplorer", 4: "GCN\non Cora", 5: "MovieLens\nas a graph",
    6: "evaluating\nrecommendations", 7: "GCN\nrecommendation", 8: "exploring\nrecommendations",
    9: "where graphs\nhelp", 10: "predicting\nratings", 11: "scaling\nup",
}


def _english_lines(term: Term) -> str:
    """The English name wrapped to LABEL_WIDTH characters, a parenthesis on its own line."""
    english = term.english
    if len(english) > LABEL_WIDTH:
        english = english.replace(" (", "\n(")
    return "\n".join(line for part in english.split("\n")
                     for line in textwrap.wrap(part, LABEL_WIDTH))


def draw_term_map(terms: Sequence[Term] = TERMS, *, article_only: bool = True,
                  fontsize: float = 8.5) -> Figure:
    """The article's terms by the notebook that introduces them: one column per notebook, each
    term written in Chinese above its English name.

    Args:
        terms: the glossary rows to draw (those with a notebook).
        article_only: draw only the terms whose Chinese the article uses (``term.article``).
        fontsize: text size in points.

    Returns:
        The figure. Chinese is drawn with :func:`cjk_fontfamily`; without a CJK font the
        figure is still drawn, with a warning that says what to install.
    """
    chosen = [t for t in terms if t.notebook is not None and (t.article or not article_only)]
    if not chosen:
        raise ValueError("no terms to draw: pass terms with a notebook (and an article "
                         "section when article_only=True)")
    sample = "".join(t.chinese for t in chosen)
    try:
        family = cjk_fontfamily(sample)
    except MissingCJKFontError as exc:
        warnings.warn(f"{exc} (the Chinese will show as empty boxes)", stacklevel=2)
        family = list(mpl.rcParams["font.family"])

    columns = {n: ts for n, ts in terms_by_notebook(chosen).items() if ts}
    chinese_lines, gap = 1.4, 0.8            # heights in English text lines

    def height(term):
        return chinese_lines + _english_lines(term).count("\n") + 1 + gap

    tallest = max(sum(height(t) for t in ts) for ts in columns.values())
    line_inches = fontsize * 1.3 / 72
    fig, ax = new_figure(figsize=(1.55 * len(columns), 1.6 + tallest * line_inches))
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(tallest, 0)                  # y counts English text lines from the top
    ax.set_axis_off()
    for x, (notebook, column) in enumerate(columns.items()):
        ax.text(x, 0, f"{notebook:02d} {SHORT_TITLES[notebook]}", ha="center", va="bottom",
                fontsize=fontsize + 0.5, fontweight="bold", linespacing=1.1)
        y = 0.6
        for term in column:
            ax.text(x, y, term.chinese, ha="center", va="top", fontsize=fontsize + 1.5,
                    fontfamily=family, color=CHINESE_COLOR)
            ax.text(x, y + chinese_lines, _english_lines(term), ha="center", va="top",
                    fontsize=fontsize, linespacing=1.15)
            y += height(term)
    ax.set_title("The article's terms (中文 / English) by the notebook that introduces them",
                 fontfamily=family, pad=34)
    return fig
